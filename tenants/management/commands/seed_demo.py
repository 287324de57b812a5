"""Create the demo account and workspace once; safe to run on every ``make run``."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from tenants import services
from tenants.models import User, Workspace
from tenants.schemas import ensure_base_schema

DEMO_EMAIL = "demo@pushpilot.local"
DEMO_PASSWORD = "pushpilot-demo"  # development only: make run prints it
DEMO_SLUG = "demo"


class Command(BaseCommand):
    help = "Create the demo user and workspace (idempotent) and print how to sign in."

    def handle(self, *args, **options):
        ensure_base_schema()
        user = User.objects.filter(email=DEMO_EMAIL).first()
        if user is None:
            user = User.objects.create_user(DEMO_EMAIL, DEMO_PASSWORD, full_name="Demo Marketer")
            self.stdout.write("created the demo user")
        workspace = Workspace.objects.filter(slug=DEMO_SLUG).first()
        if workspace is None:
            workspace = services.workspace_create(owner=user, name="Demo Workspace", slug=DEMO_SLUG)
            self.stdout.write("created the demo workspace")
        url = f"http://{settings.HOST}:{settings.PORT}/"
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Dashboard:  {url}\n  API docs:   {url}api/docs/\n"
                f"  Sign in:    {DEMO_EMAIL} / {DEMO_PASSWORD}\n  Workspace:  {workspace.name} "
                f"(X-Workspace-ID: {workspace.slug})\n"
            )
        )
