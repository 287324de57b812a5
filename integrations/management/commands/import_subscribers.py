"""Import subscribers from a CSV file into one workspace, with a progress bar.

The same importer as ``POST /api/v1/subscribers/import`` (columns documented in
``integrations.services.subscribers_import_csv``), without the HTTP body limit: the file is
streamed row by row, so its size does not matter.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django_tenants.utils import schema_context
from tqdm import tqdm

from integrations import selectors, services
from pushpilot.api.errors import ApiError
from tenants.models import Workspace


def _count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        return max(sum(1 for _ in handle) - 1, 0)


class Command(BaseCommand):
    help = "Import subscribers from a CSV file: import_subscribers --workspace <slug> [--app <id>] file.csv"

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--workspace", required=True, help="Workspace slug or id.")
        parser.add_argument("--app", help="App id for rows without an app_id column.")
        parser.add_argument("--report", type=Path, help="Write the full JSON report (row errors) here.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (for logs).")
        parser.add_argument("--no-vacuum", action="store_true", help="Skip VACUUM ANALYZE after the import.")

    def handle(self, *args, **options):
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        workspace = self._workspace(options["workspace"])
        total = _count_rows(path)
        with schema_context(workspace.schema_name):
            default_app = None
            if options["app"]:
                default_app = selectors.app_get(app_id=options["app"])
                if default_app is None:
                    raise CommandError(f"No app {options['app']} in workspace {workspace.slug}.")
            elif selectors.app_list().count() == 1:
                default_app = selectors.app_list().first()
            bar = tqdm(total=total, unit="rows", disable=options["no_progress"], file=self.stderr._out)
            try:
                with path.open("rb") as handle:
                    report = services.subscribers_import_csv(
                        lines=services.decoded_lines(handle),
                        default_app=default_app,
                        on_row=lambda _row: bar.update(1),
                    )
            except ApiError as exc:
                raise CommandError(
                    f"{exc.detail} {json.dumps(exc.details) if exc.details else ''}".strip()
                ) from None
            finally:
                bar.close()
            if (
                (report.imported or report.updated)
                and not options["no_vacuum"]
                and not connection.in_atomic_block
            ):
                # Fresh rows are not yet all-visible: until VACUUM sets the visibility map, segment
                # counts cannot use index-only scans on the audience index (and stats are stale).
                with connection.cursor() as cursor:
                    cursor.execute("VACUUM (ANALYZE) integrations_subscriber")
        self.stdout.write(
            f"imported={report.imported} updated={report.updated} errors={len(report.errors)}"
            + (" (truncated)" if report.errors_truncated else "")
        )
        for error in report.errors[:20]:
            self.stdout.write(f"  row {error['row']}: {json.dumps(error['errors'], default=str)}")
        if options["report"]:
            options["report"].write_text(json.dumps(report.as_dict(), indent=2, default=str))
            self.stdout.write(f"Full report written to {options['report']}")

    def _workspace(self, ref: str) -> Workspace:
        workspaces = Workspace.objects.visible()
        try:
            workspace = workspaces.filter(pk=uuid.UUID(ref)).first()
        except ValueError:
            workspace = workspaces.filter(slug=ref.lower()).first()
        if workspace is None:
            raise CommandError(f"No workspace {ref!r}.")
        return workspace
