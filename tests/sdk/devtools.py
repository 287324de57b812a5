"""The DevTools protocol's ServiceWorker domain, as the tests use it: find a registration, deliver a push."""

from __future__ import annotations

import json
import time


class ServiceWorkerDevTools:
    """CDP session on a page: tracks service-worker registrations and delivers push messages to them,
    exactly as DevTools' "Push" button does (the worker gets a real `push` event with that data)."""

    def __init__(self, context, page):
        self.page = page
        self.session = context.new_cdp_session(page)
        self.registrations: dict[str, str] = {}  # scope URL -> registration id
        self.activated: set[str] = set()  # registration ids with an activated version
        self.session.on("ServiceWorker.workerRegistrationUpdated", self._on_registrations)
        self.session.on("ServiceWorker.workerVersionUpdated", self._on_versions)
        self.session.send("ServiceWorker.enable")

    def _on_registrations(self, event) -> None:
        for registration in event["registrations"]:
            if registration["isDeleted"]:
                self.registrations.pop(registration["scopeURL"], None)
            else:
                self.registrations[registration["scopeURL"]] = registration["registrationId"]

    def _on_versions(self, event) -> None:
        for version in event["versions"]:
            if version["status"] == "activated":
                self.activated.add(version["registrationId"])

    def registration_id(self, scope_url: str, timeout: float = 10.0) -> str:
        """The id of the registration for ``scope_url`` once its worker is activated."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            registration_id = self.registrations.get(scope_url)
            if registration_id is not None and registration_id in self.activated:
                return registration_id
            self.page.wait_for_timeout(50)  # lets Playwright's loop dispatch the CDP events
        raise AssertionError(f"no activated service worker for {scope_url}; seen: {self.registrations}")

    def deliver_push(self, origin: str, registration_id: str, payload) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        self.session.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": origin, "registrationId": registration_id, "data": data},
        )
