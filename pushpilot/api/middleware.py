from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig, SuspiciousOperation

from pushpilot.api.errors import json_error

logger = logging.getLogger("pushpilot.api")

API_PREFIXES = ("/api/", "/sdk/")


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


class ApiErrorMiddleware:
    """Outermost: whatever escapes under /api/ or /sdk/ becomes the JSON error shape, DEBUG or not."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if is_api_path(request.path) and response.status_code >= 400 and not _is_json(response):
            return _shape(response.status_code)
        return response

    def process_exception(self, request, exception):
        if not is_api_path(request.path):
            return None
        if isinstance(exception, RequestDataTooBig):
            return json_error(413, "payload_too_large", "The request body is larger than 1 MiB.")
        if isinstance(exception, DisallowedHost):
            return json_error(400, "bad_host", "The Host header is not allowed.")
        if isinstance(exception, SuspiciousOperation):
            return json_error(400, "malformed_request", "The request could not be read.")
        logger.exception("unhandled error on %s", request.path)
        return json_error(500, "server_error", "Something went wrong on our side.")


def _is_json(response) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


_MESSAGES = {
    400: ("bad_request", "Bad request."),
    403: ("permission_denied", "You do not have permission to perform this action."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "Method not allowed."),
    413: ("payload_too_large", "The request body is larger than 1 MiB."),
}


def _shape(status_code: int):
    code, message = _MESSAGES.get(
        status_code, ("server_error" if status_code >= 500 else "error", "Request failed.")
    )
    return json_error(status_code, code, message)


class BodySizeLimitMiddleware:
    """Refuse bodies over the limit from Content-Length, before anything reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return json_error(400, "malformed_request", "Content-Length is not a number.")
        if length > settings.PUSHPILOT_MAX_BODY_BYTES:
            return json_error(413, "payload_too_large", "The request body is larger than 1 MiB.")
        return self.get_response(request)
