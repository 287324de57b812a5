from django.db import connection

from pushpilot.celery import WorkspaceTask, app
from tests.tenantapp.models import Note


@app.task(base=WorkspaceTask, name="tenantapp.write_note")
def write_note(text: str) -> str:
    Note.objects.create(text=text)
    return connection.schema_name
