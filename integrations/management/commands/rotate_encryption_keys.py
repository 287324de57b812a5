"""Re-encrypt every stored secret in every workspace with the first key of PUSHPILOT_ENCRYPTION_KEYS.

Rotation: put a new key first (keep the old ones after it), deploy, run this command, then remove
the old keys. Until this command has run, old ciphertext keeps decrypting with the old keys.
"""

from __future__ import annotations

import uuid

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_tenants.utils import schema_context

from integrations.crypto import (
    SecretUnreadable,
    encrypted_fields,
    encrypted_with_primary_key,
    reencrypt_secret,
    secret_purpose,
)
from tenants.models import Workspace


class Command(BaseCommand):
    help = "Re-encrypt every stored secret in every workspace with the first PUSHPILOT_ENCRYPTION_KEYS key."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", help="Only this workspace (slug or id).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be re-encrypted; write nothing."
        )

    def handle(self, *args, **options):
        workspaces = Workspace.objects.visible().order_by("created_at", "id")
        if options["workspace"]:
            ref = options["workspace"]
            try:
                workspaces = workspaces.filter(pk=uuid.UUID(ref))
            except ValueError:
                workspaces = workspaces.filter(slug=ref.lower())
            if not workspaces.exists():
                raise CommandError(f"No workspace {ref!r}.")
        total = workspaces.count()
        rotated = current = failed = 0
        for number, workspace in enumerate(workspaces.iterator(), start=1):
            with schema_context(workspace.schema_name):
                r, c, failures = self._rotate_workspace(workspace, dry_run=options["dry_run"])
            rotated, current, failed = rotated + r, current + c, failed + len(failures)
            self.stdout.write(
                f"[{number}/{total}] {workspace.slug}: {r} re-encrypted, {c} already current"
                + (f", {len(failures)} UNREADABLE" if failures else "")
            )
            for failure in failures:
                self.stderr.write(f"    {failure}")
        verb = "would be re-encrypted" if options["dry_run"] else "re-encrypted"
        self.stdout.write(
            f"Done: {rotated} secrets {verb}, {current} already current, in {total} workspaces."
        )
        if failed:
            raise CommandError(
                f"{failed} secrets did not decrypt with any configured key; they were left unchanged. "
                "Add the key they were encrypted with to PUSHPILOT_ENCRYPTION_KEYS and run again."
            )

    def _rotate_workspace(self, workspace: Workspace, *, dry_run: bool) -> tuple[int, int, list[str]]:
        rotated = current = 0
        failures: list[str] = []
        for label, fields in encrypted_fields():
            model = apps.get_model(label)
            with transaction.atomic():
                for row in model.objects.select_for_update().order_by("pk").iterator(chunk_size=500):
                    changed = []
                    for field in fields:
                        token = getattr(row, field)
                        if not token:
                            continue
                        if encrypted_with_primary_key(workspace_id=workspace.pk, token=token):
                            current += 1
                            continue
                        try:
                            fresh = reencrypt_secret(
                                workspace_id=workspace.pk,
                                token=token,
                                purpose=secret_purpose(label, field, row.pk),
                            )
                        except SecretUnreadable as exc:
                            failures.append(f"{label} {row.pk} {field}: {exc}")
                            continue
                        setattr(row, field, fresh)
                        changed.append(field)
                    if changed and not dry_run:
                        model.objects.filter(pk=row.pk).update(**{f: getattr(row, f) for f in changed})
                    rotated += len(changed)
        return rotated, current, failures
