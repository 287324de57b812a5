from django.db import connection

from pushpilot.celery import WorkspaceTask, app
from tests.tenantapp.models import Note


@app.task(base=WorkspaceTask, name="tenantapp.write_note")
def write_note(text: str) -> str:
    Note.objects.create(text=text)
    return connection.schema_name


@app.task(base=WorkspaceTask, name="tenantapp.where_am_i")
def where_am_i() -> tuple[str, str, int]:
    """The schema the task was given, the one PostgreSQL resolves names in, and the backend's pid."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema(), pg_backend_pid()")
        current, pid = cursor.fetchone()
    return connection.schema_name, current, pid
