from django.apps import AppConfig


class PushpilotConfig(AppConfig):
    name = "pushpilot"

    def ready(self):
        from pushpilot.api import schema  # noqa: F401 - registers the OpenAPI auth extensions
