from django.apps import AppConfig


class TenantappConfig(AppConfig):
    name = "tests.tenantapp"
    label = "tenantapp"
    default_auto_field = "django.db.models.BigAutoField"
