from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from analytics import services
        from campaigns import fanout

        if services.pipeline_outcomes_record not in fanout.OUTCOME_LISTENERS:
            fanout.OUTCOME_LISTENERS.append(services.pipeline_outcomes_record)
