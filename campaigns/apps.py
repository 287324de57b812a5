from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from integrations.crypto import register_encrypted_field

        # So `manage.py rotate_encryption_keys` re-encrypts a workspace's own AI provider key too.
        register_encrypted_field("campaigns.AiSettings", "api_key_encrypted")
