"""pushpilot-sw.js in headless Chromium: pushes arrive through the DevTools protocol
(`ServiceWorker.deliverPushMessage`, a real `push` event), notifications are read back with
`registration.getNotifications()`, and the events the worker reports land on a loopback recorder that
plays PushPilot's `/sdk/v1/events` (cross-origin, with CORS, like the real API on its own host)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.sdk.devtools import ServiceWorkerDevTools
from tests.sdk.support import SDK_KEY

pytestmark = pytest.mark.e2e

EVENTS = "/sdk/v1/events"


@dataclass
class WorkerPage:
    page: object
    devtools: ServiceWorkerDevTools
    registration_id: str

    def push(self, origin: str, payload) -> None:
        self.devtools.deliver_push(origin, self.registration_id, payload)

    def worker(self):
        """Playwright's handle on the service worker (evaluates in the worker, through DevTools)."""
        context = self.page.context
        return (
            context.service_workers[0] if context.service_workers else context.wait_for_event("serviceworker")
        )


@pytest.fixture
def worker_page(sdk_page, sdk_site, recorder) -> WorkerPage:
    """The test page with the SDK's worker registered for the whole origin ("/")."""
    page = sdk_page()
    context = page.context
    devtools = ServiceWorkerDevTools(context, page)
    registered = page.evaluate("ppTest.registerWorker()")
    assert registered["scope"] == f"{sdk_site.url}/"
    query = parse_qs(urlsplit(registered["scriptURL"]).query)
    assert query == {"key": [SDK_KEY], "api": [recorder.url]}
    return WorkerPage(page, devtools, devtools.registration_id(f"{sdk_site.url}/"))


def assert_event(request, *, delivery: str, type: str, origin: str) -> None:
    assert request.sdk_key == SDK_KEY
    assert request.headers["content-type"] == "application/json"
    assert request.headers["origin"] == origin
    [event] = request.body["events"]
    assert set(event) == {"delivery", "type", "occurred_at"}
    assert (event["delivery"], event["type"]) == (delivery, type)
    assert datetime.fromisoformat(event["occurred_at"]).tzinfo is not None


def test_push_shows_the_notification_and_reports_delivered(worker_page, sdk_site, recorder):
    page = worker_page.page
    payload = {
        "title": "Flash sale",
        "body": "Everything is 20% off until midnight.",
        "url": "/sale?utm_source=push",
        "icon": "/static/icon-192.png",
        "image": "https://cdn.example.com/sale.png",
        "actions": [
            {"action": "shop", "title": "Shop now", "url": "/sale/shop"},
            {"action": "later", "title": "Remind me"},
            {"action": "third", "title": "Never shown: browsers get two at most"},
        ],
        "data": {"coupon": "SALE20"},
        "pp": {"delivery": "dlv.signed-token.1", "notification": "0b6c9a2e-notification"},
    }

    worker_page.push(sdk_site.url, payload)

    [request] = recorder.wait_for("POST", EVENTS)
    assert_event(request, delivery="dlv.signed-token.1", type="delivered", origin=sdk_site.url)
    [shown] = page.evaluate("ppTest.notifications()")
    assert shown["title"] == "Flash sale"
    assert shown["body"] == "Everything is 20% off until midnight."
    assert shown["icon"] == f"{sdk_site.url}/static/icon-192.png"
    assert shown["image"] == "https://cdn.example.com/sale.png"
    assert shown["actions"] == [
        {"action": "shop", "title": "Shop now"},
        {"action": "later", "title": "Remind me"},
    ]
    assert shown["data"] == {
        "url": f"{sdk_site.url}/sale?utm_source=push",
        "pp": {"delivery": "dlv.signed-token.1", "notification": "0b6c9a2e-notification"},
        "actionUrls": {"shop": f"{sdk_site.url}/sale/shop"},
        "data": {"coupon": "SALE20"},
    }


def test_pushes_that_are_not_pushpilot_messages_are_ignored(worker_page, sdk_site, recorder):
    page = worker_page.page

    for junk in ["plain text, not JSON", '{"unexpected": true}', "[1, 2, 3]", '"a JSON string"', ""]:
        worker_page.push(sdk_site.url, junk)
    # A message without a delivery token is shown but has nothing to report; unsafe URLs are dropped.
    worker_page.push(sdk_site.url, {"title": "No token", "url": "javascript:alert(1)"})
    worker_page.push(sdk_site.url, {"title": "Last", "pp": {"delivery": "dlv.last"}})

    # Pushes are handled in order, so once the last one is reported every earlier one has been handled.
    [request] = recorder.wait_for("POST", EVENTS)
    assert request.body["events"][0]["delivery"] == "dlv.last"
    shown = page.evaluate("ppTest.notifications()")
    assert [n["title"] for n in shown] == ["No token", "Last"]
    assert shown[0]["data"]["url"] is None
    assert shown[0]["body"] == ""
    page.wait_for_timeout(300)
    assert len(recorder.matching("POST", EVENTS)) == 1


def test_click_on_an_action_reports_clicked_and_opens_the_action_url(worker_page, sdk_site, recorder):
    page = worker_page.page
    worker_page.push(
        sdk_site.url,
        {
            "title": "New reply",
            "body": "Ana answered you",
            "url": "/threads/7",
            "actions": [{"action": "open-offer", "title": "See offer", "url": "/offers/3"}],
            "pp": {"delivery": "dlv.click.1", "notification": "n-1"},
        },
    )
    recorder.wait_for("POST", EVENTS)
    worker = worker_page.worker()
    # Headless Chromium cannot click an OS notification, and nothing in DevTools synthesises one; so the
    # test runs the worker's own click handler on the shown notification, spying on clients.openWindow.
    worker.evaluate("""() => {
        self.openedUrls = [];
        const openWindow = self.clients.openWindow.bind(self.clients);
        self.clients.openWindow = (url) => { self.openedUrls.push(url); return openWindow(url); };
    }""")

    result = worker.evaluate(
        "action => self.registration.getNotifications().then(([n]) => self.handleNotificationClick(n, action))",
        "open-offer",
    )

    assert result["url"] == f"{sdk_site.url}/offers/3"
    assert result["action"] == "open-offer"
    assert result["how"] == "opened"
    assert worker.evaluate("self.openedUrls") == [f"{sdk_site.url}/offers/3"]
    # Outside a real notificationclick event Chromium refuses to open windows; a real click opens it.
    assert result["error"] in (None, "InvalidAccessError: Not allowed to open a window.")
    assert result["reported"] is True
    clicks = [r for r in recorder.matching("POST", EVENTS) if r.body["events"][0]["type"] == "clicked"]
    assert len(clicks) == 1
    assert_event(clicks[0], delivery="dlv.click.1", type="clicked", origin=sdk_site.url)
    assert page.evaluate("ppTest.notifications()") == []  # the click closed it


def test_click_focuses_a_window_already_showing_the_url(worker_page, sdk_site, recorder):
    page = worker_page.page
    worker_page.push(
        sdk_site.url,
        {
            "title": "Back to the page",
            "url": "/sdk-test/#from-push",
            "pp": {"delivery": "dlv.focus.1"},
        },
    )
    recorder.wait_for("POST", EVENTS)
    worker = worker_page.worker()

    result = worker.evaluate(
        "() => self.registration.getNotifications().then(([n]) => self.handleNotificationClick(n, ''))"
    )

    # The test page is open at that URL (the fragment does not count): the worker focuses it, no new window.
    assert result["how"] == "focused"
    assert result["url"] == f"{sdk_site.url}/sdk-test/#from-push"
    assert result["error"] in (None, "InvalidAccessError: Not allowed to focus a window.")
    clicked = recorder.wait_for("POST", EVENTS, count=2)[-1]
    assert_event(clicked, delivery="dlv.focus.1", type="clicked", origin=sdk_site.url)
    assert page.context.pages == [page]


def test_click_without_a_url_opens_the_site(worker_page, sdk_site, recorder):
    worker_page.push(sdk_site.url, {"title": "Hello", "pp": {"delivery": "dlv.root"}})
    recorder.wait_for("POST", EVENTS)

    result = worker_page.worker().evaluate(
        "() => self.registration.getNotifications().then(([n]) => self.handleNotificationClick(n, ''))"
    )

    assert result["url"] == f"{sdk_site.url}/"
    assert result["how"] == "opened"
