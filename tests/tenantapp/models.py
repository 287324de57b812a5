"""A tenant-schema model used only by the tests of the tenancy machinery itself (schema
isolation of tasks and cache), before product models exist in every tenant app."""

from django.db import models


class Note(models.Model):
    text = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
