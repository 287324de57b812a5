from django.apps import AppConfig


class CampaignLibraryConfig(AppConfig):
    """The read-only global template library, in the public schema (a SHARED app)."""

    name = "campaigns.library"
    label = "campaign_library"
    verbose_name = "Global template library"
    default_auto_field = "django.db.models.BigAutoField"
