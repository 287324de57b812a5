"""Every write of the campaigns app: campaigns and their status machine, scheduling, contents,
templates and image uploads. Views validate shapes with serializers and call these."""

from __future__ import annotations

import io
import uuid
import warnings
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.utils import timezone as dj_timezone
from rest_framework.exceptions import ValidationError

from campaigns import content as personalization
from campaigns import scheduling
from campaigns.error_codes import CampaignErrorCode as E
from campaigns.models import (
    SUPPORTED_CHANNELS,
    Campaign,
    CampaignContent,
    CampaignStatus,
    GeneratedBy,
    ScheduleType,
    Template,
)
from pushpilot.api.errors import ApiError, Conflict

S = CampaignStatus

# The status machine: from -> the statuses it may move to. Everything else is a 409.
#   scheduled -> scheduled   rescheduling a pending campaign
#   scheduled -> running     the pipeline starts a run
#   running   -> scheduled   a recurring campaign waits for its next occurrence after a run
#   scheduled -> completed   the pipeline finds no occurrence left (e.g. all skipped)
#   paused    -> completed   resuming a rule that has nothing left
#   paused                   recurring campaigns only (checked by campaign_pause)
TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.SCHEDULED, S.RUNNING, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.SCHEDULED, S.RUNNING, S.PAUSED, S.COMPLETED, S.CANCELLED}),
    S.RUNNING: frozenset({S.SCHEDULED, S.PAUSED, S.COMPLETED, S.CANCELLED}),
    S.PAUSED: frozenset({S.SCHEDULED, S.COMPLETED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}

# Which fields PATCH may change in each status. Schedule fields change through /schedule.
_ALWAYS_EDITABLE = {"name", "description"}
_LIVE_EDITABLE = _ALWAYS_EDITABLE | {"tone", "audience", "options", "default_language"}
EDITABLE_FIELDS: dict[str, set[str]] = {
    S.DRAFT: _LIVE_EDITABLE
    | {"channel_type", "app_id", "schedule_type", "scheduled_at", "recurrence_rule", "timezone"},
    S.SCHEDULED: _LIVE_EDITABLE,
    S.RUNNING: _LIVE_EDITABLE,
    S.PAUSED: _LIVE_EDITABLE,
    S.COMPLETED: _ALWAYS_EDITABLE,
    S.CANCELLED: _ALWAYS_EDITABLE,
}
CONTENT_EDITABLE_STATUSES = {S.DRAFT, S.SCHEDULED, S.RUNNING, S.PAUSED}
MAX_CONTENTS_PER_CAMPAIGN = 50


def _actor_id(actor) -> uuid.UUID | None:
    return getattr(actor, "pk", None) if actor is not None else None


def _locked(campaign: Campaign) -> Campaign:
    """The campaign row re-read under a row lock, so two requests never race a transition."""
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


# -- the status machine ------------------------------------------------------------------------------
def campaign_transition(*, campaign: Campaign, to: str, actor=None, save: bool = True) -> Campaign:
    """Move ``campaign`` to status ``to`` if TRANSITIONS allows it; 409 ``invalid_transition`` if not.

    The one place a campaign's status changes (the send pipeline calls it too)."""
    if to not in TRANSITIONS.get(campaign.status, frozenset()):
        raise _invalid_transition(campaign, to)
    campaign.status = to
    campaign.status_changed_at = dj_timezone.now()
    if actor is not None:
        campaign.updated_by = _actor_id(actor)
    if save:
        campaign.save(update_fields=["status", "status_changed_at", "updated_by", "updated_at"])
    return campaign


def _invalid_transition(campaign: Campaign, to: str, hint: str = "") -> Conflict:
    current = campaign.status
    return Conflict(
        f"A {current} campaign cannot become {to}.{(' ' + hint) if hint else ''}",
        code=E.INVALID_TRANSITION,
        details={
            "current_status": current,
            "requested_status": to,
            "allowed": sorted(TRANSITIONS.get(current, frozenset())),
        },
    )


# -- hooks for the send pipeline -------------------------------------------------------------------------
def _on_scheduled(campaign: Campaign, next_run_at: datetime) -> None:
    """The campaign's next run is due at ``next_run_at``: store it and hand it to the send pipeline,
    which replaces any pending ScheduledJob with one at that instant and lowers the workspace's
    ``next_run_at`` index (campaigns.dispatch). Called with the campaign row locked."""
    from campaigns import dispatch

    campaign.next_run_at = next_run_at
    campaign.save(update_fields=["next_run_at", "updated_at"])
    dispatch.on_campaign_scheduled(campaign, next_run_at)


def _on_unscheduled(campaign: Campaign) -> None:
    """The campaign has no next run any more (cancelled or paused): clear ``next_run_at`` and let the
    pipeline cancel its pending ScheduledJob (a run already under way goes on to its end)."""
    from campaigns import dispatch

    campaign.next_run_at = None
    campaign.save(update_fields=["next_run_at", "updated_at"])
    dispatch.on_campaign_unscheduled(campaign)


# -- campaigns ----------------------------------------------------------------------------------------------
def _resolve_app(app_id):
    from integrations.models import App

    app = App.objects.filter(pk=app_id).first()
    if app is None:
        raise ApiError(
            "app_id names no connected app of this workspace.",
            code=E.APP_NOT_FOUND,
            details={"app_id": ["No such app in this workspace."]},
        )
    return app


def _check_channel(channel_type: str, app) -> None:
    if channel_type not in SUPPORTED_CHANNELS:
        raise ApiError(
            f"The {channel_type} channel is not supported yet; use app_push (FCM) or web_push.",
            code=E.CHANNEL_NOT_SUPPORTED,
            details={"channel_type": [f"{channel_type} is not supported; use app_push or web_push."]},
        )
    needed = SUPPORTED_CHANNELS[channel_type]
    if app is not None and app.kind != needed:
        raise ApiError(
            f"A {channel_type} campaign needs a {needed} app; this app is {app.kind}.",
            code=E.CHANNEL_APP_MISMATCH,
            details={
                "app_id": [f"The app is {app.kind}; {channel_type} needs {needed}."],
                "channel_type": [channel_type],
            },
        )


def _check_audience(audience: dict) -> dict:
    """Resolve references in a shape-checked audience: a segment must exist in this workspace and an
    inline filter must be a valid segment filter (integrations.segments)."""
    if "segment_id" in audience:
        from integrations.models import Segment

        if not Segment.objects.filter(pk=audience["segment_id"]).exists():
            raise ApiError(
                "audience.segment_id names no segment of this workspace.",
                code=E.SEGMENT_NOT_FOUND,
                details={"audience": ["No such segment in this workspace."]},
            )
        return {"segment_id": str(audience["segment_id"])}
    if "filter" in audience:
        from integrations.segments import validate_filter

        try:
            validate_filter(audience["filter"])
        except ValidationError as exc:
            raise ApiError(
                "audience.filter is not a valid segment filter.",
                code=E.INVALID_AUDIENCE,
                details={"audience": {"filter": exc.detail}},
            ) from None
    return audience


def _schedule_fields(*, when: str | None, zone_name: str, rule: str | None) -> dict:
    """Parse scheduled_at (instant or wall clock) and check a rule's syntax, for storing on a draft."""
    out: dict[str, Any] = {}
    try:
        zone = scheduling.get_zone(zone_name)
        if rule:
            scheduling.parse_rule(rule)
        if when:
            parsed = scheduling.parse_when(when, part="scheduled_at")
            local = parsed.local_in(zone)
            out["scheduled_at"] = parsed.instant_in(zone)
            out["scheduled_local"] = local.isoformat()
        elif when is not None:
            out["scheduled_at"], out["scheduled_local"] = None, ""
    except scheduling.RuleError as exc:
        raise _rule_error(exc) from None
    return out


def _rule_error(exc: scheduling.RuleError) -> ApiError:
    field = {"invalid_timezone": "timezone", "invalid_datetime": exc.part or "scheduled_at"}.get(
        exc.code, "recurrence_rule"
    )
    return ApiError(exc.message, code=exc.code, details={field: [exc.message], **exc.details})


@transaction.atomic
def campaign_create(*, workspace, actor, data: dict) -> Campaign:
    """A draft campaign. ``data`` is the create serializer's output."""
    channel_type = data["channel_type"]
    _check_channel(channel_type, None)
    app = _resolve_app(data["app_id"])
    _check_channel(channel_type, app)
    zone_name = data.get("timezone") or workspace.timezone
    schedule_type = data.get("schedule_type") or ScheduleType.SEND_NOW
    rule = data.get("recurrence_rule") or ""
    _check_schedule_type(schedule_type, scheduled_at=data.get("scheduled_at"), rule=rule)
    campaign = Campaign(
        name=data["name"],
        description=data.get("description", ""),
        channel_type=channel_type,
        tone=data.get("tone", ""),
        schedule_type=schedule_type,
        recurrence_rule=rule,
        timezone=zone_name,
        app=app,
        audience=_check_audience(data.get("audience") or {"all": True}),
        options=data.get("options") or {},
        default_language=data.get("default_language") or "en",
        created_by=_actor_id(actor),
        updated_by=_actor_id(actor),
    )
    for key, value in _schedule_fields(when=data.get("scheduled_at"), zone_name=zone_name, rule=rule).items():
        setattr(campaign, key, value)
    campaign.save()
    return campaign


def _check_schedule_type(schedule_type: str, *, scheduled_at, rule: str | None) -> None:
    if rule and schedule_type != ScheduleType.RECURRING:
        raise ApiError(
            "recurrence_rule applies to recurring campaigns; set schedule_type to recurring.",
            code=E.SCHEDULE_TYPE_MISMATCH,
            details={"recurrence_rule": ["Only recurring campaigns take a recurrence rule."]},
        )
    if scheduled_at and schedule_type == ScheduleType.SEND_NOW:
        raise ApiError(
            "A send_now campaign sends when it is scheduled; it takes no scheduled_at.",
            code=E.SCHEDULE_TYPE_MISMATCH,
            details={"scheduled_at": ["send_now campaigns take no scheduled_at."]},
        )


@transaction.atomic
def campaign_update(*, campaign: Campaign, actor, data: dict) -> Campaign:
    """PATCH: only the fields EDITABLE_FIELDS allows in the campaign's status (409 otherwise)."""
    campaign = _locked(campaign)
    editable = EDITABLE_FIELDS[campaign.status]
    refused = sorted(set(data) - editable)
    if refused:
        raise Conflict(
            f"{', '.join(refused)} cannot change while the campaign is {campaign.status}"
            + (" (use /schedule, /pause, /resume or /cancel)." if campaign.status != S.DRAFT else "."),
            code=E.CAMPAIGN_NOT_EDITABLE,
            details={"current_status": campaign.status, "fields": refused},
        )
    channel_type = data.get("channel_type", campaign.channel_type)
    if "channel_type" in data or "app_id" in data:
        _check_channel(channel_type, None)
        app = _resolve_app(data["app_id"]) if "app_id" in data else campaign.app
        _check_channel(channel_type, app)
        campaign.channel_type, campaign.app = channel_type, app
    for name in ("name", "description", "tone", "options", "default_language"):
        if name in data:
            setattr(campaign, name, data[name] if data[name] is not None else "")
    if "audience" in data:
        campaign.audience = _check_audience(data["audience"] or {"all": True})
    if {"schedule_type", "scheduled_at", "recurrence_rule", "timezone"} & set(data):
        schedule_type = data.get("schedule_type", campaign.schedule_type)
        rule = data.get("recurrence_rule", campaign.recurrence_rule) or ""
        zone_name = data.get("timezone") or campaign.timezone
        when = data.get("scheduled_at") if "scheduled_at" in data else (campaign.scheduled_local or None)
        if schedule_type == ScheduleType.SEND_NOW and "scheduled_at" not in data:
            when = None
            campaign.scheduled_at, campaign.scheduled_local = None, ""
        if schedule_type != ScheduleType.RECURRING and "recurrence_rule" not in data:
            rule = ""
        _check_schedule_type(schedule_type, scheduled_at=when, rule=rule)
        for key, value in _schedule_fields(when=when, zone_name=zone_name, rule=rule).items():
            setattr(campaign, key, value)
        campaign.schedule_type, campaign.recurrence_rule, campaign.timezone = schedule_type, rule, zone_name
    campaign.updated_by = _actor_id(actor)
    campaign.save()
    return campaign


@transaction.atomic
def campaign_delete(*, campaign: Campaign) -> None:
    campaign = _locked(campaign)
    if campaign.status != S.DRAFT:
        raise Conflict(
            f"Only drafts can be deleted; this campaign is {campaign.status}. Cancel it instead.",
            code=E.CAMPAIGN_NOT_DRAFT,
            details={"current_status": campaign.status},
        )
    campaign.delete()


@transaction.atomic
def campaign_schedule(
    *,
    campaign: Campaign,
    workspace,
    actor,
    at: str | None = None,
    timezone: str | None = None,
    rule: str | None = None,
    now: datetime | None = None,
) -> Campaign:
    """Schedule ``campaign``: one-off at ``at``, recurring by ``rule`` from ``at`` (DTSTART), or — for a
    send_now campaign — at once. Values not given fall back to what the campaign stores.

    ``at`` with an offset is an instant; without one it is wall-clock time in ``timezone`` (default:
    the campaign's). Checks the plan's limits and the look-ahead window, moves the status through
    the status machine and hands the first run instant to ``_on_scheduled``."""
    campaign = _locked(campaign)
    now = now or dj_timezone.now()
    if campaign.status not in (S.DRAFT, S.SCHEDULED):
        # Only drafts are scheduled, and pending campaigns rescheduled; the others have their verbs.
        target = S.RUNNING if campaign.schedule_type == ScheduleType.SEND_NOW else S.SCHEDULED
        hint = "Resume it instead." if campaign.status == S.PAUSED else ""
        raise _invalid_transition(campaign, target, hint)
    if not campaign.contents.filter(is_active=True).exists():
        raise ApiError(
            "Add at least one active content (title and body) before scheduling.",
            code=E.CAMPAIGN_HAS_NO_CONTENT,
        )
    zone_name = timezone or campaign.timezone
    try:
        scheduling.get_zone(zone_name)
    except scheduling.RuleError as exc:
        raise _rule_error(exc) from None

    if campaign.schedule_type == ScheduleType.SEND_NOW:
        _check_schedule_type(campaign.schedule_type, scheduled_at=at, rule=rule)
        campaign.timezone = zone_name
        campaign.scheduled_at, campaign.scheduled_local = now, ""
        campaign_transition(campaign=campaign, to=S.RUNNING, actor=actor, save=False)
        campaign.save()
        _on_scheduled(campaign, now)
        return campaign

    rule = (
        rule
        if rule
        else (campaign.recurrence_rule if campaign.schedule_type == ScheduleType.RECURRING else "")
    )
    _check_schedule_type(campaign.schedule_type, scheduled_at=at, rule=rule)
    when_text = (
        at
        or campaign.scheduled_local
        or (campaign.scheduled_at.isoformat() if campaign.scheduled_at else None)
    )
    try:
        if campaign.schedule_type == ScheduleType.RECURRING:
            if not rule:
                raise ApiError(
                    "A recurring campaign needs a recurrence_rule (RRULE).",
                    code=E.RECURRENCE_RULE_REQUIRED,
                    details={"recurrence_rule": ["This field is required."]},
                )
            parsed = scheduling.parse_rule(rule)
            if not when_text and parsed.dtstart is None:
                raise _scheduled_at_required()
            schedule = scheduling.build_schedule(
                rule=parsed, timezone=zone_name, dtstart=when_text if when_text else None
            )
            plan = scheduling.plan_recurring(schedule, plan=workspace.plan_type, now=now)
            dtstart_local, dtstart_instant = schedule.dtstart_local, schedule.dtstart
        else:
            if not when_text:
                raise _scheduled_at_required()
            when = scheduling.parse_when(when_text, part="scheduled_at")
            zone = scheduling.get_zone(zone_name)
            dtstart_instant, dtstart_local = when.instant_in(zone), when.local_in(zone)
            plan = scheduling.plan_once(dtstart_instant, now=now)
    except scheduling.RuleError as exc:
        raise _rule_error(exc) from None
    if not plan.verdict.ok:
        raise ApiError(plan.verdict.reason, code=plan.verdict.code, details=plan.verdict.details)

    campaign.timezone = zone_name
    campaign.recurrence_rule = rule
    campaign.scheduled_at = dtstart_instant
    campaign.scheduled_local = dtstart_local.isoformat()
    campaign_transition(campaign=campaign, to=S.SCHEDULED, actor=actor, save=False)
    campaign.save()
    _on_scheduled(campaign, plan.next_run_at)
    return campaign


def _scheduled_at_required() -> ApiError:
    return ApiError(
        "scheduled_at is required to schedule this campaign.",
        code=E.SCHEDULED_AT_REQUIRED,
        details={"scheduled_at": ["This field is required."]},
    )


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, actor) -> Campaign:
    campaign = _locked(campaign)
    campaign_transition(campaign=campaign, to=S.CANCELLED, actor=actor)
    _on_unscheduled(campaign)
    return campaign


@transaction.atomic
def campaign_pause(*, campaign: Campaign, actor) -> Campaign:
    campaign = _locked(campaign)
    _require_recurring(campaign, "paused")
    campaign_transition(campaign=campaign, to=S.PAUSED, actor=actor)
    _on_unscheduled(campaign)
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, actor, now: datetime | None = None) -> Campaign:
    """Back to scheduled at the rule's next occurrence after now (runs missed while paused are not
    sent); a rule with nothing left completes the campaign."""
    campaign = _locked(campaign)
    _require_recurring(campaign, "resumed")
    if campaign.status != S.PAUSED:
        raise _invalid_transition(campaign, S.SCHEDULED, "Only a paused campaign can be resumed.")
    next_run = scheduling.next_occurrence(campaign, now or dj_timezone.now())
    if next_run is None:
        return campaign_transition(campaign=campaign, to=S.COMPLETED, actor=actor)
    campaign_transition(campaign=campaign, to=S.SCHEDULED, actor=actor)
    _on_scheduled(campaign, next_run)
    return campaign


def _require_recurring(campaign: Campaign, verb: str) -> None:
    if campaign.schedule_type != ScheduleType.RECURRING:
        raise Conflict(
            f"Only recurring campaigns can be {verb}; this one is {campaign.schedule_type}. "
            "Cancel it instead.",
            code=E.NOT_RECURRING,
            details={"current_status": campaign.status, "schedule_type": campaign.schedule_type},
        )


# -- contents -----------------------------------------------------------------------------------------------
def _check_copy(*, title: str | None, body: str | None) -> None:
    """400 with every problem of a title/body pair (syntax, variables, filters, length)."""
    problems: list[dict] = []
    for field, text, limit in (
        ("title", title, personalization.TITLE_MAX),
        ("body", body, personalization.BODY_MAX),
    ):
        if text is None:
            continue
        for problem in personalization.validate_copy(text, limit=limit, field=field):
            problems.append({"field": field, **problem})
    if not problems:
        return
    syntax = [p for p in problems if not p["code"].endswith("_too_long")]
    code = E.INVALID_PERSONALIZATION if syntax else E.CONTENT_TOO_LONG
    details: dict[str, Any] = {}
    for problem in problems:
        details.setdefault(problem["field"], []).append(problem["message"])
    details["problems"] = problems
    raise ApiError((syntax or problems)[0]["message"], code=code, details=details)


def _check_segment_filter(value: dict | None) -> dict | None:
    """A content's ``segment_filter_json`` in the segment filter language (integrations.segments);
    ``{}`` and null both mean "every subscriber" and are stored as null."""
    if not value:
        return None
    from integrations.segments import validate_filter

    try:
        validate_filter(value)
    except ValidationError as exc:
        raise ApiError(
            "segment_filter_json is not a valid segment filter.",
            code=E.INVALID_SEGMENT_FILTER,
            details={"segment_filter_json": exc.detail},
        ) from None
    return value


def require_content_editable(campaign: Campaign) -> None:
    """Conflict ``campaign_not_editable`` unless the campaign's contents may still change."""
    if campaign.status not in CONTENT_EDITABLE_STATUSES:
        raise Conflict(
            f"The content of a {campaign.status} campaign cannot change.",
            code=E.CAMPAIGN_NOT_EDITABLE,
            details={"current_status": campaign.status},
        )


def free_variant_labels(*, taken: set[str], count: int) -> list[str]:
    """The first ``count`` labels A…Z, AA…ZZ not in ``taken`` (then random ones, should 702 be used)."""
    labels: list[str] = []
    for index in range(26 * 27):
        if len(labels) == count:
            return labels
        label = chr(65 + index % 26) if index < 26 else chr(64 + index // 26) + chr(65 + index % 26)
        if label not in taken:
            labels.append(label)
    return labels + [uuid.uuid4().hex[:8] for _ in range(count - len(labels))]


def _next_variant_label(campaign: Campaign, language: str) -> str:
    taken = set(campaign.contents.filter(language=language, is_active=True).values_list("variant", flat=True))
    return free_variant_labels(taken=taken, count=1)[0]


def _save_content(content: CampaignContent) -> CampaignContent:
    try:
        with transaction.atomic():
            content.save()
    except IntegrityError:
        raise Conflict(
            f"An active content in {content.language} is already variant {content.variant}; "
            "choose another variant label or deactivate that one.",
            code=E.VARIANT_CONFLICT,
            details={"variant": [f"{content.language}/{content.variant} is taken."]},
        ) from None
    return content


@transaction.atomic
def content_create(
    *, campaign: Campaign, actor, data: dict, generated_by: str = GeneratedBy.MANUAL
) -> CampaignContent:
    """A content of ``campaign`` (AI drafts pass ``generated_by="ai"`` and ``is_active=False``)."""
    campaign = _locked(campaign)
    require_content_editable(campaign)
    if campaign.contents.count() >= MAX_CONTENTS_PER_CAMPAIGN:
        raise ApiError(
            f"A campaign has at most {MAX_CONTENTS_PER_CAMPAIGN} contents.", code=E.TOO_MANY_CONTENTS
        )
    _check_copy(title=data["title"], body=data["body"])
    language = data.get("language") or campaign.default_language
    is_active = data.get("is_active", True)
    content = CampaignContent(
        campaign=campaign,
        title=data["title"],
        body=data["body"],
        language=language,
        image_url=data.get("image_url") or "",
        tone=data.get("tone") or campaign.tone,
        segment_filter_json=_check_segment_filter(data.get("segment_filter_json")),
        variant=data.get("variant") or (_next_variant_label(campaign, language) if is_active else "A"),
        weight=data.get("weight", 1),
        click_url=data.get("click_url") or "",
        actions=data.get("actions") or [],
        is_active=is_active,
        generated_by=generated_by,
        source_template_id=data.get("source_template_id"),
        created_by=_actor_id(actor),
        updated_by=_actor_id(actor),
    )
    return _save_content(content)


@transaction.atomic
def content_update(*, content: CampaignContent, actor, data: dict) -> CampaignContent:
    require_content_editable(_locked(content.campaign))
    _check_copy(title=data.get("title"), body=data.get("body"))
    if "segment_filter_json" in data:
        data = {**data, "segment_filter_json": _check_segment_filter(data["segment_filter_json"])}
    for name in (
        "title",
        "body",
        "language",
        "image_url",
        "tone",
        "segment_filter_json",
        "variant",
        "weight",
        "click_url",
        "actions",
        "is_active",
    ):
        if name in data:
            value = data[name]
            if value is None and name not in ("segment_filter_json",):
                value = [] if name == "actions" else ""
            setattr(content, name, value)
    content.updated_by = _actor_id(actor)
    return _save_content(content)


@transaction.atomic
def content_delete(*, content: CampaignContent) -> None:
    require_content_editable(_locked(content.campaign))
    content.delete()


# -- templates ----------------------------------------------------------------------------------------------
def template_create(*, actor, data: dict) -> Template:
    _check_copy(title=data["title"], body=data["body"])
    template = Template(**data, created_by=_actor_id(actor), updated_by=_actor_id(actor))
    template.save()
    return template


def template_update(*, template, actor, data: dict) -> Template:
    template_assert_editable(template)
    _check_copy(title=data.get("title"), body=data.get("body"))
    for name, value in data.items():
        setattr(template, name, value if value is not None else "")
    template.updated_by = _actor_id(actor)
    template.save()
    return template


def template_delete(*, template) -> None:
    template_assert_editable(template)
    template.delete()


def template_assert_editable(template) -> None:
    """403 ``global_template_readonly`` for a template of the global library."""
    if getattr(template, "is_global", False):
        raise ApiError(
            "Templates of the global library are read-only; copy one into your workspace to edit it.",
            code=E.GLOBAL_TEMPLATE_READONLY,
            status_code=403,
        )


@transaction.atomic
def template_apply(*, campaign: Campaign, template, actor, overrides: dict | None = None) -> CampaignContent:
    """Copy a template (workspace or global) into a new content of ``campaign``."""
    data = {
        "title": template.title,
        "body": template.body,
        "language": template.language or campaign.default_language,
        "tone": template.tone,
        "image_url": template.image_url,
        "click_url": template.click_url,
        "source_template_id": template.pk,
    }
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return content_create(campaign=campaign, actor=actor, data=data)


# -- uploads ------------------------------------------------------------------------------------------------
IMAGE_FORMATS = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpg", "image/jpeg"),
    "WEBP": ("webp", "image/webp"),
    "GIF": ("gif", "image/gif"),
}
MAX_IMAGE_SIDE = 8192


def upload_image(*, workspace, upload) -> dict:
    """Store an uploaded notification image under the workspace's prefix in the default storage.

    The type is decided by the bytes (Pillow reads the magic number), never by the file name or the
    declared content type; the stored name is random, so names say nothing and never collide."""
    from PIL import Image, UnidentifiedImageError

    limit = settings.PUSHPILOT_UPLOAD_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise ApiError(
            f"The image is larger than {limit // 1024} KiB.",
            code=E.IMAGE_TOO_LARGE,
            status_code=413,
            details={"image": [f"At most {limit} bytes."]},
        )
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ApiError(
            f"The image is larger than {limit // 1024} KiB.",
            code=E.IMAGE_TOO_LARGE,
            status_code=413,
            details={"image": [f"At most {limit} bytes."]},
        )
    unsupported = ApiError(
        "The file is not a PNG, JPEG, WebP or GIF image.",
        code=E.UNSUPPORTED_IMAGE_TYPE,
        details={"image": ["Upload a PNG, JPEG, WebP or GIF image."]},
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind = image.format
                width, height = image.size
                image.verify()
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ):
        raise unsupported from None
    if kind not in IMAGE_FORMATS:
        raise unsupported
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
        raise ApiError(
            f"The image is {width}x{height}; at most {MAX_IMAGE_SIDE} pixels a side.",
            code=E.UNSUPPORTED_IMAGE_TYPE,
            details={"image": ["Image dimensions are too large."]},
        )
    extension, content_type = IMAGE_FORMATS[kind]
    storage = storages["default"]
    name = storage.save(upload_prefix(workspace) + f"{uuid.uuid4().hex}.{extension}", ContentFile(data))
    return {
        "url": storage.url(name),
        "path": name,
        "content_type": content_type,
        "size": len(data),
        "width": width,
        "height": height,
    }


def upload_prefix(workspace) -> str:
    """Every stored object of a workspace lives under this prefix."""
    return f"workspaces/{workspace.pk}/images/"
