"""Error codes of the campaigns API, surfaced as ``{"error": {"code": …}}`` (pushpilot.api.errors)."""

from __future__ import annotations

from enum import StrEnum


class CampaignErrorCode(StrEnum):
    # campaigns
    CHANNEL_NOT_SUPPORTED = "channel_not_supported"  # 400: sms, email, whatsapp
    CHANNEL_APP_MISMATCH = "channel_app_mismatch"  # 400: app_push needs an fcm App, web_push a web_push App
    APP_NOT_FOUND = "app_not_found"  # 400: app_id names no App of this workspace
    SEGMENT_NOT_FOUND = "segment_not_found"  # 400: audience.segment_id names no Segment of this workspace
    INVALID_AUDIENCE = "invalid_audience"  # 400
    INVALID_TRANSITION = "invalid_transition"  # 409: the status machine refuses; details.current_status
    CAMPAIGN_NOT_DRAFT = "campaign_not_draft"  # 409: only drafts are deleted; cancel the others
    CAMPAIGN_NOT_EDITABLE = "campaign_not_editable"  # 409: the field cannot change in this status
    NOT_RECURRING = "not_recurring"  # 409: pause/resume apply to recurring campaigns
    # scheduling
    INVALID_RRULE = "invalid_rrule"  # 400: details.part names the rule part
    INVALID_TIMEZONE = "invalid_timezone"  # 400
    INVALID_DATETIME = "invalid_datetime"  # 400
    RECURRENCE_TOO_FREQUENT = "recurrence_too_frequent"  # 400: closer than the plan's minimum interval
    SCHEDULE_IN_PAST = "schedule_in_past"  # 400
    SCHEDULE_TOO_FAR = "schedule_too_far"  # 400: more than PUSHPILOT_MAX_SCHEDULE_AHEAD_DAYS ahead
    SCHEDULE_NO_OCCURRENCE = "schedule_no_occurrence"  # 400: the rule never fires after now
    SCHEDULE_TYPE_MISMATCH = "schedule_type_mismatch"  # 400: e.g. a recurrence_rule on a one-off campaign
    SCHEDULED_AT_REQUIRED = "scheduled_at_required"  # 400
    RECURRENCE_RULE_REQUIRED = "recurrence_rule_required"  # 400
    CAMPAIGN_HAS_NO_CONTENT = "campaign_has_no_content"  # 400: nothing active to send
    # content and templates
    INVALID_PERSONALIZATION = "invalid_personalization"  # 400: unknown variable/filter, bad {{ }} syntax
    CONTENT_TOO_LONG = "content_too_long"  # 400: title 65 / body 240 after rendering with defaults
    VARIANT_CONFLICT = "variant_conflict"  # 409: an active content already has this language + variant
    TOO_MANY_CONTENTS = "too_many_contents"  # 400
    INVALID_SEGMENT_FILTER = "invalid_segment_filter"  # 400: segment_filter_json is not a segment filter
    GLOBAL_TEMPLATE_READONLY = "global_template_readonly"  # 403
    TEMPLATE_NOT_FOUND = "template_not_found"  # 400 (apply-template body)
    # runs
    NOTIFICATION_NOT_CANCELLABLE = "notification_not_cancellable"  # 409: the run already ended or was stopped
    # uploads
    IMAGE_TOO_LARGE = "image_too_large"  # 413
    UNSUPPORTED_IMAGE_TYPE = "unsupported_image_type"  # 400: not PNG, JPEG, WebP or GIF by its bytes
