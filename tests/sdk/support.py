"""Helpers shared by the SDK's browser tests."""

from __future__ import annotations

SDK_KEY = "pk_test_sdk_key_0123456789"
# A valid P-256 public key (uncompressed point, base64url): what /sdk/v1/config hands out for a Web Push app.
VAPID_PUBLIC_KEY = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"

# A PushSubscription.toJSON() as Chromium would produce it with a push service; the keys are valid.
SUBSCRIPTION = {
    "endpoint": "https://fcm.googleapis.com/fcm/send/dJ8vQ3:APA91bH-synthetic",
    "expirationTime": None,
    "keys": {
        "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
        "auth": "tBHItJI5svbpez7KI4CCXg",
    },
}


def settle(page, expression: str, arg=None) -> dict:
    """Runs a PushPilot call in the page; returns {ok, value} or {ok: False, name, code, message}."""
    page.evaluate(f"arg => ppTest.settle({expression})", arg)
    return page.evaluate("ppTest.outcome")


def click_subscribe(page) -> dict:
    page.click("#subscribe")  # a real user gesture, as browsers require for the permission prompt
    page.wait_for_function("ppTest.outcome !== null")
    return page.evaluate("ppTest.outcome")
