from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    """Every API path works with and without the trailing slash (APPEND_SLASH is off)."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"
