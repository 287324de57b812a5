"""Request and response shapes of the campaigns API. They validate and shape; services write."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from rest_framework import serializers

from campaigns import content as personalization
from campaigns import scheduling
from campaigns.models import (
    Campaign,
    CampaignContent,
    ChannelType,
    ScheduleType,
    TemplateCategory,
)
from pushpilot.api.serializers import PartialUpdate, StrictSerializer

_VARIANT_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_ACTION_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_COLLAPSE_KEY_RE = re.compile(r"^[A-Za-z0-9_.~-]{1,64}$")
# FCM refuses these data keys; pp_* carry our delivery tokens.
_RESERVED_DATA_KEYS = re.compile(
    r"^(from|notification|message_type|collapse_key|google.*|gcm.*|pp_.*)$", re.I
)
MAX_TTL_SECONDS = 28 * 24 * 3600  # FCM's and most push services' maximum
MAX_DATA_BYTES = 3000  # FCM allows 4 KB for the whole message
MAX_THROTTLE_PER_MINUTE = 1_000_000  # far above what one workspace can send; the same bound as send-now


def validate_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise serializers.ValidationError("Enter an http(s) URL.")
    return value


class HttpUrlField(serializers.URLField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 1024)
        super().__init__(**kwargs)
        self.validators.append(validate_http_url)


def validate_language(value: str) -> str:
    normal = personalization.normalize_language(value)
    if normal is None:
        raise serializers.ValidationError("Enter a BCP 47 language tag such as en, en-IN or zh-Hant-TW.")
    return normal


def validate_timezone(value: str) -> str:
    if not scheduling.is_valid_zone(value):
        raise serializers.ValidationError(
            f"'{value[:64]}' is not an IANA time zone (for example Europe/Berlin)."
        )
    return value


# -- campaigns ----------------------------------------------------------------------------------------------
class AudienceField(serializers.JSONField):
    """{"all": true} | {"segment_id": "<uuid>"} | {"filter": {…}}: exactly one."""

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if data is None:
            return None
        if (
            not isinstance(data, dict)
            or len(data) != 1
            or next(iter(data)) not in ("all", "segment_id", "filter")
        ):
            raise serializers.ValidationError(
                'Give exactly one of {"all": true}, {"segment_id": "<id>"} or {"filter": {…}}.'
            )
        key, value = next(iter(data.items()))
        if key == "all" and value is not True:
            raise serializers.ValidationError('"all" must be true.')
        if key == "segment_id":
            try:
                return {"segment_id": str(serializers.UUIDField().to_internal_value(value))}
            except serializers.ValidationError:
                raise serializers.ValidationError("segment_id must be a segment's id (UUID).") from None
        if key == "filter":
            if not isinstance(value, dict) or not value:
                raise serializers.ValidationError("filter must be a non-empty object.")
            if len(json.dumps(value)) > 10_000:
                raise serializers.ValidationError("filter is too large.")
        return data


class CampaignOptionsSerializer(StrictSerializer):
    ttl = serializers.IntegerField(
        min_value=0,
        max_value=MAX_TTL_SECONDS,
        required=False,
        help_text="Seconds the push service keeps an undelivered message.",
    )
    priority = serializers.ChoiceField(choices=["high", "normal"], required=False)
    collapse_key = serializers.CharField(max_length=64, required=False, allow_blank=True)
    click_url = HttpUrlField(required=False, allow_blank=True)
    data = serializers.DictField(
        child=serializers.CharField(max_length=1024, allow_blank=True), required=False
    )
    throttle_per_minute = serializers.IntegerField(
        min_value=1,
        max_value=MAX_THROTTLE_PER_MINUTE,
        required=False,
        allow_null=True,
        help_text="Messages per minute for each run: batches are spread evenly over time (null: no throttle).",
    )

    def validate_collapse_key(self, value):
        if value and not _COLLAPSE_KEY_RE.match(value):
            raise serializers.ValidationError("Letters, digits and _ . ~ - only.")
        return value

    def validate_data(self, value):
        for key in value:
            if not key or len(key) > 64 or _RESERVED_DATA_KEYS.match(key):
                raise serializers.ValidationError(f"'{key[:64]}' cannot be used as a data key.")
        if len(json.dumps(value).encode()) > MAX_DATA_BYTES:
            raise serializers.ValidationError(f"data is larger than {MAX_DATA_BYTES} bytes.")
        return value


class _CampaignFields(StrictSerializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    channel_type = serializers.ChoiceField(choices=ChannelType.choices)
    tone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    schedule_type = serializers.ChoiceField(choices=ScheduleType.choices, required=False)
    scheduled_at = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=40,
        help_text="ISO 8601; with an offset an instant, without one wall-clock time in `timezone`.",
    )
    recurrence_rule = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=scheduling.MAX_RULE_CHARS,
        trim_whitespace=False,
    )
    timezone = serializers.CharField(required=False, max_length=64, validators=[validate_timezone])
    app_id = serializers.UUIDField()
    audience = AudienceField(required=False, allow_null=True)
    options = CampaignOptionsSerializer(required=False)
    default_language = serializers.CharField(required=False, max_length=35, validators=[validate_language])

    def validate_scheduled_at(self, value):
        return value or None

    def validate_default_language(self, value):
        return validate_language(value)

    def validate_name(self, value):
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value.strip()


class CampaignCreateSerializer(_CampaignFields):
    pass


class CampaignUpdateSerializer(PartialUpdate, _CampaignFields):
    pass


class CampaignSerializer(serializers.ModelSerializer):
    app_id = serializers.UUIDField(read_only=True)
    scheduled_local = serializers.SerializerMethodField(
        help_text="scheduled_at as wall-clock time in `timezone` (the recurrence anchor)."
    )
    content_count = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "description",
            "status",
            "channel_type",
            "tone",
            "schedule_type",
            "scheduled_at",
            "scheduled_local",
            "recurrence_rule",
            "timezone",
            "app_id",
            "audience",
            "options",
            "default_language",
            "next_run_at",
            "last_run_at",
            "content_count",
            "created_by",
            "updated_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_scheduled_local(self, obj) -> str | None:
        return obj.scheduled_local or None

    def get_content_count(self, obj) -> int:
        annotated = getattr(obj, "content_count", None)
        return annotated if annotated is not None else obj.contents.count()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        # Instants are shown in the campaign's zone, so 09:00 reads as 09:00.
        zone = scheduling.get_zone(instance.timezone) if scheduling.is_valid_zone(instance.timezone) else None
        for name in ("scheduled_at", "next_run_at", "last_run_at"):
            value = getattr(instance, name)
            if value is not None and zone is not None:
                data[name] = value.astimezone(zone).isoformat()
        return data


class ScheduleRequestSerializer(StrictSerializer):
    scheduled_at = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=40)
    timezone = serializers.CharField(
        required=False, allow_null=True, max_length=64, validators=[validate_timezone]
    )
    recurrence_rule = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=scheduling.MAX_RULE_CHARS,
        trim_whitespace=False,
    )


class SchedulePreviewQuerySerializer(StrictSerializer):
    count = serializers.IntegerField(min_value=1, max_value=scheduling.MAX_PREVIEW_COUNT, default=10)


class SchedulePreviewRequestSerializer(StrictSerializer):
    rule = serializers.CharField(
        max_length=scheduling.MAX_RULE_CHARS,
        trim_whitespace=False,
        help_text='An RRULE value ("FREQ=WEEKLY;BYDAY=MO") or RFC 5545 lines.',
    )
    dtstart = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=40,
        help_text="Wall-clock time in `timezone`, without an offset.",
    )
    timezone = serializers.CharField(
        required=False, allow_null=True, max_length=64, validators=[validate_timezone]
    )
    count = serializers.IntegerField(min_value=1, max_value=scheduling.MAX_PREVIEW_COUNT, default=10)
    exdates = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=scheduling.MAX_EXDATES
    )


class SchedulePreviewResponseSerializer(serializers.Serializer):
    occurrences = serializers.ListField(child=serializers.CharField())
    timezone = serializers.CharField()
    dtstart = serializers.CharField()
    rule = serializers.CharField()
    schedulable = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True)
    reason_code = serializers.CharField(allow_null=True)


# -- contents -------------------------------------------------------------------------------------------------
class ActionButtonSerializer(StrictSerializer):
    action = serializers.CharField(max_length=32)
    title = serializers.CharField(max_length=40)
    url = HttpUrlField(required=False, allow_blank=True)

    def validate_action(self, value):
        if not _ACTION_RE.match(value):
            raise serializers.ValidationError("Letters, digits, _ and - only (at most 32).")
        return value


class _ContentFields(StrictSerializer):
    title = serializers.CharField(max_length=200, trim_whitespace=False)
    body = serializers.CharField(max_length=2000, trim_whitespace=False)
    language = serializers.CharField(required=False, max_length=35, validators=[validate_language])
    image_url = HttpUrlField(required=False, allow_blank=True)
    tone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    segment_filter_json = serializers.JSONField(required=False, allow_null=True)
    variant = serializers.CharField(required=False, max_length=32)
    weight = serializers.IntegerField(required=False, min_value=0, max_value=10_000)
    click_url = HttpUrlField(required=False, allow_blank=True)
    actions = ActionButtonSerializer(many=True, required=False, max_length=2)
    is_active = serializers.BooleanField(required=False)

    def validate_language(self, value):
        return validate_language(value)

    def validate_variant(self, value):
        if not _VARIANT_RE.match(value):
            raise serializers.ValidationError("Letters, digits, _ and - only (at most 32).")
        return value

    def validate_segment_filter_json(self, value):
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("Must be an object or null.")
        return value

    def validate_actions(self, value):
        names = [a["action"] for a in value]
        if len(set(names)) != len(names):
            raise serializers.ValidationError("Action ids must differ.")
        return value


class ContentCreateSerializer(_ContentFields):
    pass


class ContentUpdateSerializer(PartialUpdate, _ContentFields):
    pass


class ContentSerializer(serializers.ModelSerializer):
    campaign_id = serializers.UUIDField(read_only=True)
    subtitle = serializers.CharField(source="body", read_only=True, help_text="The seed's name for body.")

    class Meta:
        model = CampaignContent
        fields = [
            "id",
            "campaign_id",
            "title",
            "body",
            "subtitle",
            "language",
            "image_url",
            "tone",
            "segment_filter_json",
            "variant",
            "weight",
            "click_url",
            "actions",
            "is_active",
            "generated_by",
            "source_template_id",
            "created_by",
            "updated_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ApplyTemplateSerializer(StrictSerializer):
    template_id = serializers.UUIDField()
    language = serializers.CharField(required=False, max_length=35, validators=[validate_language])
    variant = serializers.CharField(required=False, max_length=32)
    is_active = serializers.BooleanField(required=False)

    def validate_language(self, value):
        return validate_language(value)

    def validate_variant(self, value):
        if not _VARIANT_RE.match(value):
            raise serializers.ValidationError("Letters, digits, _ and - only (at most 32).")
        return value


# -- templates ------------------------------------------------------------------------------------------------
class _TemplateFields(StrictSerializer):
    name = serializers.CharField(max_length=120)
    category = serializers.ChoiceField(choices=TemplateCategory.choices, required=False)
    title = serializers.CharField(max_length=200, trim_whitespace=False)
    body = serializers.CharField(max_length=2000, trim_whitespace=False)
    tone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    language = serializers.CharField(required=False, max_length=35, validators=[validate_language])
    image_url = HttpUrlField(required=False, allow_blank=True)
    click_url = HttpUrlField(required=False, allow_blank=True)

    def validate_language(self, value):
        return validate_language(value)


class TemplateCreateSerializer(_TemplateFields):
    pass


class TemplateUpdateSerializer(PartialUpdate, _TemplateFields):
    pass


class TemplateSerializer(serializers.Serializer):
    """A workspace template or a global one (``is_global``); reads model instances and row dicts."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    category = serializers.CharField()
    title = serializers.CharField()
    body = serializers.CharField()
    subtitle = serializers.CharField(source="body", help_text="The seed's name for body.")
    tone = serializers.CharField()
    language = serializers.CharField()
    image_url = serializers.CharField()
    click_url = serializers.CharField()
    is_global = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


# -- uploads --------------------------------------------------------------------------------------------------
class UploadRequestSerializer(StrictSerializer):
    image = serializers.FileField(allow_empty_file=False, use_url=False)


class UploadResponseSerializer(serializers.Serializer):
    url = serializers.CharField()
    path = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
