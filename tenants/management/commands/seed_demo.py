"""Create the demo account, workspace and data once; safe to run on every ``make run``."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from pushpilot import demo


class Command(BaseCommand):
    help = (
        "Create the demo user and workspace and fill it with demo data (idempotent), "
        "and print how to sign in."
    )

    def handle(self, *args, **options):
        account = demo.demo_account_ensure()
        if account.created_user:
            self.stdout.write("created the demo user")
        if account.created_workspace:
            self.stdout.write("created the demo workspace")
        report = demo.demo_data_seed(account=account)
        self.stdout.write("\n".join(report.lines()))
        url = f"http://{settings.HOST}:{settings.PORT}/"
        workspace = account.workspace
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Dashboard:  {url}\n  API docs:   {url}api/docs/\n"
                f"  Sign in:    {demo.DEMO_EMAIL} / {demo.DEMO_PASSWORD}\n  Workspace:  {workspace.name} "
                f"(X-Workspace-ID: {workspace.slug})\n"
            )
        )
