"""The demo workspace ``make run`` prints: an account, and a workspace worth exploring.

``demo_account_ensure`` creates the demo user and workspace; ``demo_data_seed`` fills the workspace,
once, with a Web Push app, ~300 subscribers, segments, campaigns in every state and two weeks of
history (runs, deliveries, SDK events), so the Overview charts, campaign analytics (an A/B test
with a clear winner), runs and schedules all have something to show.

Everything that has a service goes through it (apps, subscribers, segments, campaigns, contents,
scheduling, the status machine, SDK events, the pipeline's outcome hook), so the numbers agree the
way they do in production: the summary's sent count, the rollups and the runs' counters all come
from the same Delivery rows. History has no service (the pipeline only writes runs by sending), so
past runs and their Delivery rows are written here directly, then recorded through
``campaigns.fanout.OUTCOME_LISTENERS`` exactly as a batch records its outcomes.

Once: a ``demo.seeded`` audit entry marks the workspace; a workspace that already has apps or
campaigns of its own is left alone too. Deterministic: every choice comes from one seeded
``random.Random`` (ids and "now" aside). The subscribers' push endpoints are well-formed but made
up: nothing reaches them unless someone sends a campaign to them; the scheduled weekly campaign
targets a segment none of them is in.
"""

from __future__ import annotations

import random
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from analytics import services as analytics_services
from campaigns import content as personalization
from campaigns import dispatch, fanout
from campaigns import services as campaign_services
from campaigns.models import Campaign, CampaignStatus
from campaigns.pipeline_models import (
    Delivery,
    DeliveryStatus,
    JobStatus,
    Notification,
    NotificationSource,
    NotificationStatus,
    ScheduledJob,
    SendingPolicy,
)
from integrations import services as integration_services
from integrations.models import App, AppKind, Segment, Subscriber
from integrations.serializers import SubscribeSerializer, b64url_encode
from tenants import services as tenant_services
from tenants.models import AuditLog, User, Workspace

DEMO_EMAIL = "demo@pushpilot.local"
DEMO_PASSWORD = "pushpilot-demo"  # development only: make run prints it
DEMO_NAME = "Demo Workspace"
DEMO_SLUG = "demo"
DEMO_TIMEZONE = "Asia/Kolkata"
SEEDED_ACTION = "demo.seeded"
SEED = 20_240_501
SUBSCRIBER_COUNT = 300
APP_NAME = "Demo website"
# The demo workspace's (illustrative) sending policy: what makes "suppressed" appear in the history.
QUIET_HOURS = (time(22, 0), time(7, 0))

# The order of the P-256 group: private scalars are drawn below it.
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


# ---------------------------------------------------------------------------------------------
# The account.


@dataclass
class DemoAccount:
    user: User
    workspace: Workspace
    created_user: bool = False
    created_workspace: bool = False


def demo_account_ensure() -> DemoAccount:
    """The demo user (demo@pushpilot.local) and its workspace ``demo``, created if missing."""
    user = User.objects.filter(email=DEMO_EMAIL).first()
    created_user = user is None
    if user is None:
        user = User.objects.create_user(DEMO_EMAIL, DEMO_PASSWORD, full_name="Demo Marketer")
    workspace = Workspace.objects.filter(slug=DEMO_SLUG).first()
    created_workspace = workspace is None
    if workspace is None:
        workspace = tenant_services.workspace_create(
            owner=user, name=DEMO_NAME, slug=DEMO_SLUG, timezone_name=DEMO_TIMEZONE
        )
    return DemoAccount(user, workspace, created_user, created_workspace)


# ---------------------------------------------------------------------------------------------
# The data.


@dataclass
class DemoReport:
    """What ``demo_data_seed`` did; ``skipped`` says why it did nothing."""

    skipped: str = ""
    apps: list[str] = field(default_factory=list)
    subscribers: int = 0
    segments: list[str] = field(default_factory=list)
    campaigns: dict[str, str] = field(default_factory=dict)  # name -> status
    runs: int = 0
    deliveries: Counter = field(default_factory=Counter)  # status -> count
    events: Counter = field(default_factory=Counter)  # type -> accepted
    next_run_at: datetime | None = None
    seconds: float = 0.0

    def lines(self) -> list[str]:
        if self.skipped:
            return [f"demo data: {self.skipped}"]
        outcomes = ", ".join(f"{n} {s}" for s, n in sorted(self.deliveries.items()))
        events = ", ".join(f"{n} {t}" for t, n in sorted(self.events.items()))
        lines = [
            f"demo data created in {self.seconds:.1f} s:",
            f"  apps:         {', '.join(self.apps)} (Web Push; no FCM app: that needs a real Firebase "
            "service account)",
            f"  subscribers:  {self.subscribers} (en-IN, hi-IN, en-US, es-MX) in segments "
            f"{', '.join(repr(s) for s in self.segments)}",
            "  campaigns:    " + "; ".join(f"{name} ({status})" for name, status in self.campaigns.items()),
            f"  history:      {self.runs} runs, {sum(self.deliveries.values())} deliveries ({outcomes}); "
            f"SDK events: {events}",
            "  The subscribers' push endpoints are made up (valid format, real keys): nothing is sent "
            "to them unless you send a campaign.",
        ]
        if self.next_run_at is not None:
            lines.append(
                f"  The weekly campaign's first run is {self.next_run_at:%Y-%m-%d %H:%M %Z}, to the "
                "'Early-access testers' segment: empty until you tag a browser of your own `early-access`."
            )
        return lines


def demo_data_seed(*, account: DemoAccount, now: datetime | None = None) -> DemoReport:
    """Fill the demo workspace once (see the module docstring). A second call changes nothing."""
    workspace, user = account.workspace, account.user
    if AuditLog.objects.filter(workspace=workspace, action=SEEDED_ACTION).exists():
        return DemoReport(skipped="already in the demo workspace, nothing to do")
    started = timezone.now()
    with schema_context(workspace.schema_name):
        if App.objects.exists() or Campaign.objects.exists():
            return DemoReport(
                skipped="the demo workspace already has apps or campaigns of its own; left alone"
            )
        with transaction.atomic():
            if workspace.timezone != DEMO_TIMEZONE:
                # The demo is an Indian store with customers abroad: its send times (9 am, 6:30 pm)
                # and quiet hours read right in India time. A workspace made by an older seed is UTC.
                workspace = tenant_services.workspace_update(
                    workspace=workspace, actor=user, timezone=DEMO_TIMEZONE
                )
            report = _Builder(workspace=workspace, user=user, now=now or started).build()
            tenant_services.audit_record(
                workspace=workspace,
                action=SEEDED_ACTION,
                actor=user,
                metadata={"subscribers": report.subscribers, "runs": report.runs},
            )
    report.seconds = (timezone.now() - started).total_seconds()
    return report


# ---------------------------------------------------------------------------------------------
# People.

_FIRST_NAMES = {
    "en-IN": ["Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Isha", "Arjun", "Kavya", "Rahul", "Sneha",
              "Aditya", "Meera", "Karan", "Diya", "Nikhil", "Pooja", "Siddharth", "Riya", "Manish", "Neha"],
    "hi-IN": ["अमित", "प्रिया", "राहुल", "सुनीता", "विकास", "अंजलि", "संजय", "पूजा", "रवि", "नेहा",
              "आकाश", "कविता", "दीपक", "सीमा", "मनोज", "रेखा"],
    "en-US": ["Emma", "Liam", "Olivia", "Noah", "Ava", "Ethan", "Sophia", "Mason", "Mia", "Lucas",
              "Harper", "James", "Amelia", "Benjamin", "Evelyn", "Henry"],
    "es-MX": ["Sofía", "Mateo", "Valentina", "Santiago", "Camila", "Diego", "Regina", "Emiliano",
              "Ximena", "Leonardo", "Renata", "Sebastián"],
}  # fmt: skip
_PLACES = {
    "en-IN": [("Asia/Kolkata", "Mumbai"), ("Asia/Kolkata", "Bengaluru"), ("Asia/Kolkata", "Delhi"),
              ("Asia/Kolkata", "Pune"), ("Asia/Kolkata", "Chennai"), ("Asia/Kolkata", "Hyderabad")],
    "hi-IN": [("Asia/Kolkata", "Delhi"), ("Asia/Kolkata", "Jaipur"), ("Asia/Kolkata", "Lucknow"),
              ("Asia/Kolkata", "Indore"), ("Asia/Kolkata", "Patna")],
    "en-US": [("America/New_York", "New York"), ("America/New_York", "Boston"),
              ("America/Chicago", "Chicago"), ("America/Denver", "Denver"),
              ("America/Los_Angeles", "San Francisco"), ("America/Los_Angeles", "Seattle")],
    "es-MX": [("America/Mexico_City", "Ciudad de México"), ("America/Mexico_City", "Guadalajara"),
              ("America/Monterrey", "Monterrey"), ("America/Cancun", "Cancún")],
}  # fmt: skip
_LOCALES = (("en-IN", 40), ("hi-IN", 25), ("en-US", 20), ("es-MX", 15))
# (platform, browser, push service) and how often each is seen.
_DEVICES = (
    (("web", "chrome", "fcm"), 34),
    (("web", "edge", "wns"), 6),
    (("web", "firefox", "mozilla"), 10),
    (("web", "safari", "apple"), 6),
    (("android", "chrome", "fcm"), 34),
    (("ios", "safari", "apple"), 10),
)
_PLANS = (("free", 60), ("plus", 28), ("pro", 12))


def _weighted(rng: random.Random, options) -> Any:
    values, weights = zip(*options, strict=True)
    return rng.choices(values, weights=weights)[0]


def _token(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_B64URL) for _ in range(length))


def _endpoint(rng: random.Random, service: str) -> str:
    """A push endpoint in each service's real format (the default allowlist's origins)."""
    if service == "fcm":
        return f"https://fcm.googleapis.com/fcm/send/{_token(rng, 11)}:APA91b{_token(rng, 134)}"
    if service == "mozilla":
        return f"https://updates.push.services.mozilla.com/wpush/v2/gAAAAAB{_token(rng, 180)}"
    if service == "apple":
        return f"https://web.push.apple.com/Q{_token(rng, 150)}"
    return f"https://wns2-pn1p.notify.windows.com/w/?token=BQYAAAD{_token(rng, 160)}"


def _subscription_keys(rng: random.Random) -> dict[str, str]:
    """A browser's keys: a real P-256 public point (p256dh) and a 16-byte auth secret, drawn from the
    seeded generator so the demo is the same every time."""
    key = ec.derive_private_key(rng.randrange(1, _P256_ORDER), ec.SECP256R1())
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return {"p256dh": b64url_encode(point), "auth": b64url_encode(rng.randbytes(16))}


# ---------------------------------------------------------------------------------------------
# Runs.


@dataclass
class _Outcome:
    """One delivery as the pipeline's outcome hook reads it (``campaigns.fanout._Row``'s fields)."""

    id: Any
    subscriber_id: Any
    status: str
    variant: str = ""
    language: str = ""
    sent_at: datetime | None = None
    code: str = ""
    message: str = ""
    content_id: Any = None


@dataclass
class _RunPlan:
    at: datetime
    invalid_rate: float
    failed_rate: float
    delivered_rate: float
    open_rate: float  # of delivered, clicks included
    click_rate: dict[str, float]  # of delivered, by variant ("" = any)
    unsubscribe_rate: float


class _Builder:
    def __init__(self, *, workspace: Workspace, user: User, now: datetime):
        self.workspace, self.user, self.now = workspace, user, now
        self.rng = random.Random(SEED)
        try:
            self.zone = zoneinfo.ZoneInfo(workspace.timezone or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.zone = zoneinfo.ZoneInfo("UTC")
        self.report = DemoReport()

    # -- helpers ----------------------------------------------------------------------------------
    def local(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.zone)

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()

    def build(self) -> DemoReport:
        self.app = self.make_app()
        self.subscribers = self.make_subscribers()
        self.segments = self.make_segments()
        self.make_sending_policy()
        self.make_completed_campaigns()
        self.make_scheduled_campaign()
        self.make_paused_campaign()
        self.make_draft_campaign()
        return self.report

    # -- app, subscribers, segments ---------------------------------------------------------------
    def make_app(self) -> App:
        app = integration_services.app_create(
            workspace=self.workspace,
            kind=AppKind.WEB_PUSH,
            name=APP_NAME,
            subject="mailto:demo@pushpilot.local",
            actor=self.user,
        )
        self.report.apps.append(app.name)
        return app

    def make_subscribers(self) -> list[Subscriber]:
        rng, made = self.rng, []
        for number in range(1, SUBSCRIBER_COUNT + 1):
            locale = _weighted(rng, _LOCALES)
            zone_name, city = rng.choice(_PLACES[locale])
            platform, browser, service = _weighted(rng, _DEVICES)
            joined_days_ago = rng.uniform(15, 120) if number > 40 else rng.uniform(0.5, 14)
            tags = [
                tag
                for tag, chance in (
                    ("newsletter", 0.55),
                    ("deals", 0.35),
                    ("cart-abandoner", 0.2),
                    ("vip", 0.12),
                )
                if rng.random() < chance
            ]
            if joined_days_ago < 14:
                tags.append("new-user")
            payload = {
                "subscription": {"endpoint": _endpoint(rng, service), "keys": _subscription_keys(rng)},
                "external_user_id": f"demo-user-{number:04d}",
                "locale": locale,
                "timezone": zone_name,
                "platform": platform,
                "tags": tags,
                "attributes": {
                    "first_name": rng.choice(_FIRST_NAMES[locale]),
                    "plan": _weighted(rng, _PLANS),
                    "city": city,
                    "browser": browser,
                },
            }
            serializer = SubscribeSerializer(data=payload, context={"app": self.app})
            serializer.is_valid(raise_exception=True)
            data = dict(serializer.validated_data)
            subscriber, _created = integration_services.subscriber_upsert(
                app=self.app, subscription=data.pop("subscription"), profile=data
            )
            # History: registered weeks ago, last seen some time in the last 30 days. No service sets
            # these (the SDK only ever says "now").
            subscriber.created_at = self.now - timedelta(days=joined_days_ago)
            seen_days_ago = min(joined_days_ago, rng.triangular(0, 30, 1))
            subscriber.last_seen_at = self.now - timedelta(days=seen_days_ago)
            made.append(subscriber)
        Subscriber.objects.bulk_update(made, ["created_at", "last_seen_at"], batch_size=500)
        self.report.subscribers = len(made)
        return made

    def make_segments(self) -> dict[str, Segment]:
        segments = {
            "newsletter": integration_services.segment_create(
                name="Newsletter readers",
                description="Opted in to the weekly newsletter on the website.",
                filter_={"tags": {"any": ["newsletter"]}},
                actor=self.user,
            ),
            "cart": integration_services.segment_create(
                name="Cart abandoners (last 14 days)",
                description="Left something in the cart and came back to the site within two weeks.",
                filter_={"tags": {"any": ["cart-abandoner"]}, "last_seen_within_days": 14},
                actor=self.user,
            ),
            # Nobody in the made-up audience carries this tag, so the scheduled campaign that targets
            # it never sends to the fictitious endpoints: tag your own subscribed browser to get it.
            "early_access": integration_services.segment_create(
                name="Early-access testers",
                description="Tag a subscriber `early-access` to receive the weekly picks.",
                filter_={"tags": {"any": ["early-access"]}},
                actor=self.user,
            ),
        }
        self.report.segments = [s.name for s in segments.values()]
        return segments

    def make_sending_policy(self) -> None:
        # No service writes the policy (the API view saves it); quiet hours are what the pipeline
        # suppresses for, so the history below suppresses for them too.
        SendingPolicy.objects.update_or_create(
            pk=1,
            defaults={
                "quiet_hours_start": QUIET_HOURS[0],
                "quiet_hours_end": QUIET_HOURS[1],
                "updated_by": self.user.pk,
            },
        )

    # -- campaigns --------------------------------------------------------------------------------
    def campaign(self, *, contents: list[dict], **data: Any) -> Campaign:
        data.setdefault("channel_type", "web_push")
        data.setdefault("timezone", str(self.zone.key))
        campaign = campaign_services.campaign_create(
            workspace=self.workspace, actor=self.user, data={"app_id": self.app.pk, **data}
        )
        for content in contents:
            campaign_services.content_create(campaign=campaign, actor=self.user, data=content)
        return campaign

    def make_draft_campaign(self) -> None:
        campaign = self.campaign(
            name="Weekend mega sale",
            description="Two subject lines to test before the weekend; Hindi copy for hi-IN browsers.",
            tone="playful",
            schedule_type="scheduled",
            audience={"all": True},
            options={"ttl": 86_400, "click_url": "https://shop.example.com/weekend"},
            contents=[
                {"title": "{{ first_name|default:\"Hey\" }}, the weekend sale is on 🎉",
                 "body": "Up to 50% off everything until Sunday midnight.", "language": "en", "variant": "A"},
                {"title": "48 hours. Up to 50% off.", "body": "Your favourites are on sale until Sunday.",
                 "language": "en", "variant": "B"},
                {"title": "{{ first_name|default:\"नमस्ते\" }}, वीकेंड सेल शुरू 🎉",
                 "body": "रविवार रात तक हर चीज़ पर 50% तक की छूट।", "language": "hi", "variant": "A"},
                {"title": "48 घंटे, 50% तक की छूट", "body": "आपकी पसंदीदा चीज़ें रविवार तक सेल में।",
                 "language": "hi", "variant": "B"},
            ],
        )  # fmt: skip
        self.report.campaigns[campaign.name] = campaign.status

    def make_scheduled_campaign(self) -> None:
        # Three days out, then weekly; its audience (early-access testers) is empty until you tag
        # a real subscriber of yours, so it never sends to the made-up endpoints.
        first = self.local(self.today + timedelta(days=3), time(10, 0))
        weekday = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")[first.weekday()]
        campaign = self.campaign(
            name="Weekly picks for you",
            description="Every week: new arrivals picked for early-access testers.",
            tone="friendly",
            schedule_type="recurring",
            recurrence_rule=f"FREQ=WEEKLY;BYDAY={weekday}",
            scheduled_at=first.replace(tzinfo=None).isoformat(),
            audience={"segment_id": str(self.segments["early_access"].pk)},
            options={"click_url": "https://shop.example.com/picks"},
            contents=[
                {"title": "{{ first_name|default:\"Hi\" }}, your weekly picks are here",
                 "body": "Fresh arrivals we think you'll like. Tap to see this week's edit.", "language": "en"},
                {"title": "{{ first_name|default:\"नमस्ते\" }}, इस हफ़्ते की ख़ास पसंद",
                 "body": "नए प्रोडक्ट्स, सिर्फ़ आपके लिए चुने गए।", "language": "hi"},
                {"title": "{{ first_name|default:\"Hola\" }}, tus favoritos de la semana",
                 "body": "Novedades elegidas para ti. Toca para verlas.", "language": "es"},
            ],
        )  # fmt: skip
        campaign = campaign_services.campaign_schedule(
            campaign=campaign, workspace=self.workspace, actor=self.user, now=self.now
        )
        self.report.campaigns[campaign.name] = campaign.status
        self.report.next_run_at = campaign.next_run_at.astimezone(self.zone) if campaign.next_run_at else None

    def make_paused_campaign(self) -> None:
        campaign = self.campaign(
            name="Cart reminder",
            description="Daily nudge for abandoned carts; paused while the offer is reworked.",
            tone="helpful",
            schedule_type="recurring",
            recurrence_rule="FREQ=DAILY",
            scheduled_at=self.local(self.today + timedelta(days=1), time(19, 30)).replace(tzinfo=None).isoformat(),
            audience={"segment_id": str(self.segments["cart"].pk)},
            contents=[
                {"title": "Still thinking it over, {{ first_name|default:\"friend\" }}?",
                 "body": "Your cart is saved. Free delivery if you order today.", "language": "en"},
                {"title": "¿Lo sigues pensando, {{ first_name|default:\"amigo\" }}?",
                 "body": "Guardamos tu carrito. Envío gratis si compras hoy.", "language": "es"},
            ],
        )  # fmt: skip
        campaign_services.campaign_schedule(
            campaign=campaign, workspace=self.workspace, actor=self.user, now=self.now
        )
        campaign = campaign_services.campaign_pause(campaign=campaign, actor=self.user)
        self.report.campaigns[campaign.name] = campaign.status

    def make_completed_campaigns(self) -> None:
        # A one-off festive sale with an A/B test (B wins clearly) ...
        sale_at = self.local(self.today - timedelta(days=9), time(18, 30))
        sale = self.campaign(
            name="Festive flash sale",
            description="One evening, two subject lines: urgency (B) against a plain offer (A).",
            tone="festive",
            schedule_type="scheduled",
            scheduled_at=sale_at.replace(tzinfo=None).isoformat(),
            audience={"all": True},
            options={"click_url": "https://shop.example.com/festive-sale"},
            contents=[
                {"title": "Festive sale: 40% off sitewide", "body": "Lights, gifts and sweets, all on sale tonight.",
                 "language": "en", "variant": "A"},
                {"title": "⏰ 3 hours left, {{ first_name|default:\"friend\" }}: 40% off",
                 "body": "The festive flash sale ends at 10 pm. Grab your gifts now.", "language": "en", "variant": "B"},
                {"title": "त्योहार सेल: हर चीज़ पर 40% छूट", "body": "दीये, तोहफ़े और मिठाइयाँ, आज रात सेल में।",
                 "language": "hi", "variant": "A"},
                {"title": "⏰ सिर्फ़ 3 घंटे बाकी, {{ first_name|default:\"दोस्त\" }}: 40% छूट",
                 "body": "त्योहार फ़्लैश सेल रात 10 बजे ख़त्म। अभी तोहफ़े चुनें।", "language": "hi", "variant": "B"},
            ],
        )  # fmt: skip
        self.history(
            sale,
            [
                _RunPlan(
                    at=sale_at,
                    invalid_rate=0.02,
                    failed_rate=0.01,
                    delivered_rate=0.93,
                    open_rate=0.32,
                    click_rate={"A": 0.06, "B": 0.18},
                    unsubscribe_rate=0.01,
                )
            ],
        )

        # ... and a two-week daily pilot that ended with its last run today (or yesterday).
        last = self.local(self.today, time(9, 0))
        if last > self.now - timedelta(minutes=90):
            last -= timedelta(days=1)
        runs = 14
        first = last - timedelta(days=runs - 1)
        daily = self.campaign(
            name="Morning deals (2-week pilot)",
            description="A daily 9 am deal for newsletter readers, for two weeks.",
            tone="upbeat",
            schedule_type="recurring",
            recurrence_rule=f"FREQ=DAILY;COUNT={runs}",
            scheduled_at=first.replace(tzinfo=None).isoformat(),
            audience={"segment_id": str(self.segments["newsletter"].pk)},
            options={"click_url": "https://shop.example.com/deal-of-the-day"},
            contents=[
                {"title": "Today's deal, {{ first_name|default:\"friend\" }} ☕",
                 "body": "One product, one price, until midnight.", "language": "en"},
                {"title": "आज की डील, {{ first_name|default:\"दोस्त\" }} ☕",
                 "body": "एक प्रोडक्ट, एक दाम, आधी रात तक।", "language": "hi"},
                {"title": "La oferta de hoy, {{ first_name|default:\"amigo\" }} ☕",
                 "body": "Un producto, un precio, hasta medianoche.", "language": "es"},
            ],
        )  # fmt: skip
        plans = []
        for day in range(runs):
            at = self.local((first + timedelta(days=day)).date(), time(9, 0))
            plans.append(
                _RunPlan(
                    at=at,
                    invalid_rate=0.004,
                    failed_rate=0.006,
                    delivered_rate=self.rng.uniform(0.9, 0.96),
                    open_rate=self.rng.uniform(0.2, 0.3),
                    click_rate={"": self.rng.uniform(0.07, 0.12)},
                    unsubscribe_rate=0.004,
                )
            )
        self.history(daily, plans)

    # -- history ----------------------------------------------------------------------------------
    def history(self, campaign: Campaign, plans: list[_RunPlan]) -> None:
        """Past runs of ``campaign``, oldest first, then the campaign completed as the pipeline
        leaves it. Each run's audience is read when it runs, so an unsubscribe or a gone
        subscription of one run keeps that subscriber out of the next."""
        campaign.refresh_from_db()
        contents = dispatch.content_snapshot(campaign)  # what a run of the campaign carries
        finished = None
        for plan in plans:
            finished = self.run(campaign, contents, plan)
        campaign_services.campaign_transition(campaign=campaign, to=CampaignStatus.RUNNING, actor=self.user)
        campaign_services.campaign_transition(campaign=campaign, to=CampaignStatus.COMPLETED, actor=self.user)
        # The pipeline stamps these as it goes; here they are history.
        Campaign.objects.filter(pk=campaign.pk).update(
            created_at=plans[0].at - timedelta(days=3),
            last_run_at=plans[-1].at,
            status_changed_at=finished,
        )
        self.report.campaigns[campaign.name] = CampaignStatus.COMPLETED

    def run(self, campaign: Campaign, contents: list[dict], plan: _RunPlan) -> datetime:
        """One past run: the job, the Notification, its Delivery rows, their outcomes recorded
        through the pipeline's hook, gone subscriptions marked invalid, then the SDK's events."""
        rng = self.rng
        audience = campaign.audience or {"all": True}
        recipients = fanout.audience_queryset(SimpleNamespace(target=audience, app_id=self.app.pk))
        recipients = list(
            recipients.order_by("external_user_id").only(
                "id", "external_user_id", "locale", "timezone", "platform", "attributes"
            )
        )
        snapshot = [SimpleNamespace(**c) for c in contents]
        quiet_start, quiet_end = QUIET_HOURS
        started = plan.at + timedelta(milliseconds=rng.randint(200, 900))
        rows: list[_Outcome] = []
        deliveries: list[Delivery] = []
        for index, subscriber in enumerate(recipients):
            row = _Outcome(id=None, subscriber_id=subscriber.pk, status=DeliveryStatus.SENT)
            local = plan.at.astimezone(zoneinfo.ZoneInfo(subscriber.timezone or str(self.zone.key)))
            at = started + timedelta(seconds=1.5 + index * 0.02 + rng.random())
            # Drawn for everyone, so a change in who is in quiet hours (DST) shifts no other outcome.
            draw = rng.random()
            if fanout.in_window(local.time(), quiet_start, quiet_end):
                row.status, row.code = DeliveryStatus.SUPPRESSED, fanout.REASON_QUIET_HOURS
                row.message = "Quiet hours in the subscriber's timezone."
            else:
                # The pipeline's weighted pick, keyed on stable names so the demo is the same each time.
                chosen = personalization.select_content(
                    snapshot,
                    locale=subscriber.locale or None,
                    default_language=campaign.default_language,
                    key=f"demo:{campaign.name}:{subscriber.external_user_id}",
                )
                row.variant, row.language, row.content_id = chosen.variant, chosen.language, chosen.id
                if draw < plan.invalid_rate:
                    row.status, row.code = DeliveryStatus.INVALID, "subscription_gone"
                    row.message = "410 Gone: the push subscription has expired or was unsubscribed."
                elif draw < plan.invalid_rate + plan.failed_rate:
                    row.status, row.code = DeliveryStatus.FAILED, "unavailable"
                    row.message = "Gave up after 5 attempts: 503 Service Unavailable"
                else:
                    row.sent_at = at
            delivery = Delivery(
                notification_id=None,
                subscriber_id=subscriber.pk,
                batch_no=index // fanout.batch_size(),
                status=row.status,
                content_id=row.content_id,
                variant=row.variant,
                language=row.language,
                attempts=0
                if row.status == DeliveryStatus.SUPPRESSED
                else (5 if row.code == "unavailable" else 1),
                next_attempt_at=started,
                provider_message_id=f"demo-{rng.getrandbits(64):016x}" if row.sent_at else "",
                error_code=row.code,
                error_message=row.message,
                sent_at=row.sent_at,
            )
            row.id = delivery.id
            rows.append(row)
            deliveries.append(delivery)

        counts = Counter(row.status for row in rows)
        finished = max([r.sent_at for r in rows if r.sent_at] or [started]) + timedelta(seconds=2)
        job = ScheduledJob.objects.create(
            campaign=campaign, run_at=plan.at, status=JobStatus.COMPLETED, attempts=1,
            claimed_at=plan.at - timedelta(seconds=10), finished_at=started,
        )  # fmt: skip
        notification = Notification.objects.create(
            source=NotificationSource.CAMPAIGN,
            campaign=campaign,
            job=job,
            app_id=self.app.pk,
            status=NotificationStatus.SENT,
            created_by=self.user.pk,
            contents=contents,
            default_language=campaign.default_language,
            options=dispatch.campaign_options(campaign),
            target=audience,
            timezone=campaign.timezone,
            targeted=len(rows),
            sent=counts[DeliveryStatus.SENT],
            failed=counts[DeliveryStatus.FAILED],
            invalid=counts[DeliveryStatus.INVALID],
            suppressed=counts[DeliveryStatus.SUPPRESSED],
            batches_total=max(1, -(-len(rows) // fanout.batch_size())),
            fanout_complete=True,
            scheduled_for=plan.at,
            started_at=started,
            first_sent_at=min((r.sent_at for r in rows if r.sent_at), default=None),
            finished_at=finished,
        )
        for delivery in deliveries:
            delivery.notification_id = notification.pk
        Delivery.objects.bulk_create(deliveries, batch_size=1000)
        Notification.objects.filter(pk=notification.pk).update(created_at=plan.at, updated_at=finished)
        Delivery.objects.filter(notification_id=notification.pk).update(
            created_at=started, updated_at=finished
        )
        ScheduledJob.objects.filter(pk=job.pk).update(
            created_at=plan.at - timedelta(days=1), updated_at=started
        )

        # Exactly what a batch does when it records its outcomes: rollups, failed events, sent tally.
        written = [(row.status, row.subscriber_id) for row in rows]
        for listener in fanout.OUTCOME_LISTENERS:
            listener(notification=notification, rows=rows, written=written, now=finished)
        gone = [row.subscriber_id for row in rows if row.status == DeliveryStatus.INVALID]
        integration_services.subscribers_mark_invalid(subscriber_ids=gone, reason="provider: gone")

        self.report.runs += 1
        self.report.deliveries.update(counts)
        self.events([r for r in rows if r.status == DeliveryStatus.SENT], plan)
        return finished

    def events(self, sent: list[_Outcome], plan: _RunPlan) -> None:
        """What the service worker reports for the sent messages, through the SDK's ingestion service:
        delivered, opened, clicked (in that order per message) and a few unsubscribes. Nothing that
        would have happened after "now"."""
        rng, events = self.rng, []
        latest = self.now - timedelta(minutes=1)
        # Clicks are dealt at each variant's exact rate (systematic sampling from a random start), not
        # drawn one by one: an A/B test on ~120 messages per variant must not hinge on luck.
        dealt: Counter = Counter()
        clicked: Counter = Counter()
        phase = {variant: rng.random() for variant in sorted(plan.click_rate)}
        for row in sent:
            if rng.random() >= plan.delivered_rate:
                continue
            token = fanout.delivery_token_make(workspace_id=self.workspace.pk, delivery_id=row.id)
            delivered = row.sent_at + timedelta(seconds=rng.uniform(1, 240))
            steps = [("delivered", delivered)]
            opened = delivered + timedelta(minutes=rng.triangular(0.2, 360, 5))
            variant = row.variant if row.variant in plan.click_rate else ""
            click_rate = plan.click_rate.get(variant, 0.0)
            dealt[variant] += 1
            opens_without_click = (plan.open_rate - click_rate) / (1 - click_rate)
            if int(dealt[variant] * click_rate + phase.get(variant, 0.0)) > clicked[variant]:
                clicked[variant] += 1
                steps += [("opened", opened), ("clicked", opened + timedelta(seconds=rng.uniform(0.3, 3)))]
            elif rng.random() < opens_without_click:
                steps.append(("opened", opened))
            if rng.random() < plan.unsubscribe_rate:
                steps.append(("unsubscribed", delivered + timedelta(minutes=rng.uniform(1, 600))))
            for kind, at in steps:
                if at <= latest:
                    events.append({"delivery": token, "type": kind, "occurred_at": at.isoformat()})
        for start in range(0, len(events), 500):
            results = analytics_services.events_ingest(
                app=self.app, workspace_id=self.workspace.pk, events=events[start : start + 500], now=self.now
            )
            self.report.events.update(r.type for r in results if r.status == "accepted")
