"""Notifications API: runs (campaign occurrences and API sends), their deliveries, send-now, and the
workspace's sending policy (quiet hours, frequency cap). Thin: validation here, writes in
``campaigns.dispatch`` / ``campaigns.fanout``."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

import django_filters
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns import content as personalization
from campaigns import dispatch
from campaigns.pipeline_models import (
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationSource,
    NotificationStatus,
    SendingPolicy,
)
from campaigns.serializers import MAX_THROTTLE_PER_MINUTE
from pushpilot.api.errors import ApiError
from pushpilot.api.serializers import StrictSerializer
from tenants.access import WorkspaceAccessMixin
from tenants.models import ApiKeyScope, Role

READ, SEND = ApiKeyScope.READ, ApiKeyScope.SEND
TOPIC_RE = re.compile(r"^[a-zA-Z0-9\-_.~%]{1,900}$")
FCM_RESERVED_DATA_KEYS = ("from", "notification", "message_type")
FCM_RESERVED_DATA_PREFIXES = ("google.", "gcm.")
MAX_DATA_KEYS = 50
# A signed delivery token is ~110 characters; sized with room to spare.
TOKEN_PLACEHOLDER = "x" * 140
FCM_MAX_PAYLOAD_BYTES = 4096


class ErrorCode:
    APP_NOT_FOUND = "app_not_found"
    CAMPAIGN_NOT_FOUND = "campaign_not_found"
    TEMPLATE_NOT_FOUND = "template_not_found"
    SEGMENT_NOT_FOUND = "segment_not_found"
    CAMPAIGN_APP_MISMATCH = "campaign_app_mismatch"
    TARGET_APP_MISMATCH = "target_app_mismatch"
    TOPIC_REQUIRES_FCM = "topic_requires_fcm"
    CAMPAIGN_HAS_NO_CONTENT = "campaign_has_no_content"
    RESERVED_DATA_KEY = "reserved_data_key"
    RECIPIENT_LIMIT_EXCEEDED = "recipient_limit_exceeded"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    INVALID_PERSONALIZATION = "invalid_personalization"
    CONTENT_TOO_LONG = "content_too_long"
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"


# ---------------------------------------------------------------------------------------------
# Serializers.


class HttpUrlField(serializers.URLField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not value.lower().startswith(("https://", "http://")):
            raise serializers.ValidationError("Use an http(s) URL.")
        return value


class TargetSerializer(StrictSerializer):
    subscriber_ids = serializers.ListField(child=serializers.UUIDField(), min_length=1, required=False)
    external_user_ids = serializers.ListField(
        child=serializers.CharField(max_length=255, trim_whitespace=False), min_length=1, required=False
    )
    segment_id = serializers.UUIDField(required=False)
    filter = serializers.DictField(required=False)
    all = serializers.BooleanField(required=False)
    topic = serializers.CharField(max_length=900, required=False)

    def validate_all(self, value):
        if value is not True:
            raise serializers.ValidationError('Only true: {"all": true} targets every active subscriber.')
        return value

    def validate_topic(self, value):
        if not TOPIC_RE.match(value):
            raise serializers.ValidationError(
                "An FCM topic is 1-900 of the characters a-z A-Z 0-9 - _ . ~ %."
            )
        return value

    def validate(self, attrs):
        if len(attrs) != 1:
            raise serializers.ValidationError(
                "Give exactly one of subscriber_ids, external_user_ids, segment_id, filter, all, topic."
            )
        return attrs


class SendNowSerializer(StrictSerializer):
    app_id = serializers.UUIDField()
    title = serializers.CharField(max_length=1000, required=False)
    body = serializers.CharField(max_length=4000, required=False)
    language = serializers.CharField(max_length=35, required=False)
    url = HttpUrlField(max_length=1024, required=False)
    image_url = HttpUrlField(max_length=1024, required=False)
    data = serializers.DictField(required=False)
    target = TargetSerializer()
    throttle_per_minute = serializers.IntegerField(
        min_value=1,
        max_value=MAX_THROTTLE_PER_MINUTE,
        required=False,
        allow_null=True,
        help_text="Messages per minute: batches are spread evenly over time and the run shows an "
        "expected_finish_at. Default: the campaign's options.throttle_per_minute (campaign_id), else none.",
    )
    campaign_id = serializers.UUIDField(required=False)
    template_id = serializers.UUIDField(required=False)
    ttl = serializers.IntegerField(min_value=0, max_value=28 * 24 * 3600, required=False)
    priority = serializers.ChoiceField(choices=["normal", "high"], required=False)
    collapse_key = serializers.CharField(max_length=64, required=False)

    def validate_data(self, value):
        if len(value) > MAX_DATA_KEYS:
            raise serializers.ValidationError(f"At most {MAX_DATA_KEYS} keys.")
        for key in value:
            if not key or len(key) > 64:
                raise serializers.ValidationError("Keys are 1-64 characters.")
        return value

    def validate_language(self, value):
        normal = personalization.normalize_language(value)
        if not normal:
            raise serializers.ValidationError("A language tag such as en or pt-BR.")
        return normal

    def validate(self, attrs):
        sources = [name for name in ("campaign_id", "template_id") if name in attrs]
        inline = "title" in attrs or "body" in attrs
        if len(sources) + int(inline) != 1:
            raise serializers.ValidationError(
                {
                    "non_field_errors": [
                        "Give the copy inline (title and body), or a campaign_id, or a template_id."
                    ]
                }
            )
        if inline:
            missing = {name: ["This field is required."] for name in ("title", "body") if not attrs.get(name)}
            if missing:
                raise serializers.ValidationError(missing)
        return attrs


class CountsSerializer(serializers.Serializer):
    targeted = serializers.IntegerField()
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    invalid = serializers.IntegerField()
    suppressed = serializers.IntegerField()
    pending = serializers.IntegerField()


class NotificationSerializer(serializers.ModelSerializer):
    counts = serializers.SerializerMethodField()
    app_id = serializers.UUIDField(read_only=True)
    campaign_id = serializers.UUIDField(read_only=True, allow_null=True)
    job_id = serializers.UUIDField(read_only=True, allow_null=True)
    title = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id",
            "status",
            "source",
            "campaign_id",
            "job_id",
            "app_id",
            "title",
            "counts",
            "target",
            "throttle_per_minute",
            "stop_reason",
            "scheduled_for",
            "started_at",
            "first_sent_at",
            "finished_at",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(CountsSerializer)
    def get_counts(self, obj: Notification) -> dict:
        return _counts(obj)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_title(self, obj: Notification) -> str | None:
        first = (obj.contents or [None])[0]
        return first.get("title") if first else None


class DeliverySerializer(serializers.ModelSerializer):
    subscriber_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "subscriber_id",
            "status",
            "batch_no",
            "variant",
            "language",
            "attempts",
            "error_code",
            "error_message",
            "provider_message_id",
            "next_attempt_at",
            "sent_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SendingPolicySerializer(StrictSerializer):
    quiet_hours_start = serializers.TimeField(allow_null=True, required=False)
    quiet_hours_end = serializers.TimeField(allow_null=True, required=False)
    frequency_cap_per_day = serializers.IntegerField(
        min_value=1, max_value=1000, allow_null=True, required=False
    )
    updated_at = serializers.DateTimeField(read_only=True)

    def validate(self, attrs):
        start = attrs.get("quiet_hours_start", getattr(self.instance, "quiet_hours_start", None))
        end = attrs.get("quiet_hours_end", getattr(self.instance, "quiet_hours_end", None))
        if (start is None) != (end is None):
            raise serializers.ValidationError(
                {
                    "quiet_hours_end" if start is not None else "quiet_hours_start": [
                        "Quiet hours need both a start and an end (or neither)."
                    ]
                }
            )
        if start is not None and start == end:
            raise serializers.ValidationError({"quiet_hours_end": ["The end must differ from the start."]})
        return attrs


def _counts(obj: Notification) -> dict:
    return {
        "targeted": obj.targeted,
        "sent": obj.sent,
        "failed": obj.failed,
        "invalid": obj.invalid,
        "suppressed": obj.suppressed,
        "pending": obj.pending,
    }


# ---------------------------------------------------------------------------------------------
# Filters.


class NotificationFilter(django_filters.FilterSet):
    """``?campaign=<id>&status=sent,failed&source=api&app=<id>&created_after=…&created_before=…``."""

    campaign = django_filters.UUIDFilter(field_name="campaign_id")
    app = django_filters.UUIDFilter(field_name="app_id")
    status = django_filters.MultipleChoiceFilter(choices=NotificationStatus.choices)
    source = django_filters.ChoiceFilter(choices=NotificationSource.choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Notification
        fields: list[str] = []


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=DeliveryStatus.choices)
    error_code = django_filters.CharFilter(max_length=64)

    class Meta:
        model = Delivery
        fields: list[str] = []


class _CommaFilterBackend(DjangoFilterBackend):
    def get_filterset_kwargs(self, request, queryset, view):
        kwargs = super().get_filterset_kwargs(request, queryset, view)
        data = request.query_params.copy()
        values = [
            v.strip() for raw in request.query_params.getlist("status") for v in raw.split(",") if v.strip()
        ]
        if values:
            data.setlist("status", values)
        kwargs["data"] = data
        return kwargs


def _filtered(filterset_class, request, queryset):
    backend = _CommaFilterBackend()
    view = type("V", (), {"filterset_class": filterset_class})()
    return backend.filter_queryset(request, queryset, view)


# ---------------------------------------------------------------------------------------------
# Views.


class NotificationDetailSerializer(NotificationSerializer):
    """The schema of ``notification_detail``: a run's fields plus progress, timing and failures."""

    progress = serializers.DictField(read_only=True)
    timing = serializers.DictField(read_only=True)
    expected_finish_at = serializers.DateTimeField(read_only=True, allow_null=True)
    failure_reasons = serializers.ListField(child=serializers.DictField(), read_only=True)
    stop_message = serializers.CharField(read_only=True, allow_null=True)

    class Meta(NotificationSerializer.Meta):
        fields = [
            *NotificationSerializer.Meta.fields,
            "progress",
            "timing",
            "expected_finish_at",
            "failure_reasons",
            "stop_message",
        ]
        read_only_fields = fields


def _uuid_or_404(value) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise exceptions.NotFound() from None


class NotificationViewSet(WorkspaceAccessMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Runs of the workspace's campaigns and API sends. Viewers and API keys with ``read`` read;
    members and API keys with ``send`` send."""

    queryset = Notification.objects.all()
    serializer_class = NotificationSerializer
    filter_backends = [_CommaFilterBackend]
    filterset_class = NotificationFilter
    lookup_value_regex = "[^/]+"
    action_roles = {"send_now": Role.MEMBER, "cancel": Role.MEMBER}
    api_key_scopes = {"list": READ, "retrieve": READ, "deliveries": READ, "send_now": SEND, "cancel": SEND}

    def scope_queryset(self, qs):
        return qs.order_by("-created_at", "id")

    def get_object(self):
        found = self.get_queryset().filter(pk=_uuid_or_404(self.kwargs["pk"])).first()
        if found is None:
            raise exceptions.NotFound()
        return found

    @extend_schema(
        parameters=[
            OpenApiParameter("campaign", str, description="Campaign id."),
            OpenApiParameter(
                "status", str, description="Comma-separated: queued, sending, sent, failed, cancelled."
            ),
            OpenApiParameter("source", str, description="campaign or api."),
            OpenApiParameter("app", str, description="App id."),
            OpenApiParameter("created_after", str, description="ISO 8601 date-time (inclusive)."),
            OpenApiParameter("created_before", str, description="ISO 8601 date-time (exclusive)."),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: NotificationDetailSerializer})
    def retrieve(self, request, pk=None):
        return Response(notification_detail(self.get_object()))

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, description="Comma-separated delivery statuses."),
            OpenApiParameter("error_code", str),
        ],
        responses={200: DeliverySerializer(many=True)},
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def deliveries(self, request, pk=None):
        """One row per recipient, paged; filter by status (queued, sent, failed, invalid, suppressed)."""
        notification = self.get_object()
        queryset = _filtered(DeliveryFilter, request, Delivery.objects.filter(notification=notification))
        page = self.paginate_queryset(queryset.order_by("batch_no", "id"))
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(request=None, responses={200: NotificationDetailSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Stop a queued or sending run: messages not yet sent are suppressed with reason
        ``cancelled`` and nothing more goes out (a batch already at the provider finishes). The run
        ends ``cancelled``; 409 ``notification_not_cancellable`` when it had already ended."""
        notification = dispatch.notification_cancel(notification=self.get_object())
        return Response(notification_detail(notification))

    @extend_schema(
        request=SendNowSerializer,
        responses={
            202: inline_serializer(
                "SendNowAccepted", {"id": serializers.UUIDField(), "status": serializers.CharField()}
            )
        },
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                location=OpenApiParameter.HEADER,
                required=False,
                description="Same key within 24 h: the first response, nothing sent again.",
            )
        ],
    )
    @action(detail=False, methods=["post"], url_path="send-now", url_name="send-now")
    def send_now(self, request):
        """Send to subscribers now (or throttled): inline copy, a campaign's contents or a template;
        target = subscriber_ids | external_user_ids | segment_id | filter | all | topic."""
        key = request.headers.get("Idempotency-Key")
        if key is None:
            status_code, body, _id = self._send_now(request.data)
            return Response(body, status=status_code)
        key = key.strip()
        if not key or len(key) > 255 or not key.isprintable():
            raise ApiError(
                "Idempotency-Key must be 1-255 printable characters.", code=ErrorCode.INVALID_IDEMPOTENCY_KEY
            )
        credential = f"key:{self.api_key.pk}" if self.api_key else f"user:{request.user.pk}"
        fingerprint = dispatch.request_fingerprint(path="notifications/send-now", body=request.data)
        try:
            status_code, body, replayed = dispatch.idempotent(
                credential=credential,
                key=key,
                fingerprint=fingerprint,
                run=lambda: self._send_now(request.data),
            )
        except dispatch.IdempotencyKeyReused:
            raise ApiError(
                "This Idempotency-Key was used with a different request in the last 24 hours.",
                code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
                status_code=422,
            ) from None
        response = Response(body, status=status_code)
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response

    def _send_now(self, payload) -> tuple[int, dict, uuid.UUID]:
        serializer = SendNowSerializer(data=payload)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            notification = send_now(
                data=serializer.validated_data,
                workspace=self.workspace,
                actor=self.actor,
                api_key=self.api_key,
            )
        return (
            status.HTTP_202_ACCEPTED,
            {"id": str(notification.pk), "status": notification.status},
            notification.pk,
        )


class SendingPolicyView(WorkspaceAccessMixin, APIView):
    """The workspace's quiet hours (local to each subscriber) and daily frequency cap."""

    action_roles = {"patch": Role.ADMIN, "put": Role.ADMIN}

    @extend_schema(responses={200: SendingPolicySerializer})
    def get(self, request):
        policy = SendingPolicy.objects.filter(pk=1).first() or SendingPolicy()
        return Response(_policy_out(policy))

    @extend_schema(request=SendingPolicySerializer, responses={200: SendingPolicySerializer})
    def patch(self, request):
        with transaction.atomic():
            policy = SendingPolicy.objects.select_for_update().filter(pk=1).first() or SendingPolicy()
            serializer = SendingPolicySerializer(instance=policy, data=request.data, partial=True)
            serializer.is_valid(raise_exception=True)
            for name, value in serializer.validated_data.items():
                setattr(policy, name, value)
            policy.updated_by = getattr(self.actor, "pk", None)
            policy.save()
        return Response(_policy_out(policy))


def _policy_out(policy: SendingPolicy) -> dict:
    return {
        "quiet_hours_start": policy.quiet_hours_start.isoformat(timespec="minutes")
        if policy.quiet_hours_start
        else None,
        "quiet_hours_end": policy.quiet_hours_end.isoformat(timespec="minutes")
        if policy.quiet_hours_end
        else None,
        "frequency_cap_per_day": policy.frequency_cap_per_day,
        "updated_at": policy.updated_at,
    }


# ---------------------------------------------------------------------------------------------
# Send-now: resolve and check everything a request names, then hand over to the pipeline.


def send_now(*, data: dict, workspace, actor=None, api_key=None) -> Notification:
    from integrations.models import App, AppKind, Segment, Subscriber

    app = App.objects.filter(pk=data["app_id"]).first()
    if app is None:
        raise ApiError(
            "app_id names no connected app of this workspace.",
            code=ErrorCode.APP_NOT_FOUND,
            details={"app_id": ["No such app in this workspace."]},
        )
    target = dict(data["target"])
    campaign = None
    options: dict = {}
    language = data.get("language") or "en"
    if "campaign_id" in data:
        from campaigns.models import Campaign

        campaign = Campaign.objects.filter(pk=data["campaign_id"]).first()
        if campaign is None:
            raise ApiError(
                "campaign_id names no campaign of this workspace.",
                code=ErrorCode.CAMPAIGN_NOT_FOUND,
                details={"campaign_id": ["No such campaign in this workspace."]},
            )
        if campaign.app_id != app.pk:
            raise ApiError(
                "The campaign sends through another app than app_id.",
                code=ErrorCode.CAMPAIGN_APP_MISMATCH,
                details={"campaign_id": ["The campaign belongs to another app."]},
            )
        contents = dispatch.content_snapshot(campaign)
        if not contents:
            raise ApiError("The campaign has no active content.", code=ErrorCode.CAMPAIGN_HAS_NO_CONTENT)
        options = dispatch.campaign_options(campaign)
        language = data.get("language") or campaign.default_language
        if "throttle_per_minute" not in data:
            data = {**data, "throttle_per_minute": dispatch._throttle_of(campaign)}
    elif "template_id" in data:
        from campaigns.selectors import template_get

        template = template_get(data["template_id"])
        if template is None:
            raise ApiError(
                "template_id names no template of this workspace or the global library.",
                code=ErrorCode.TEMPLATE_NOT_FOUND,
                details={"template_id": ["No such template."]},
            )
        contents = [
            _inline_content(
                template.title,
                template.body,
                template.language or language,
                image_url=template.image_url,
                click_url=template.click_url,
            )
        ]
        language = data.get("language") or template.language or language
    else:
        _check_copy(data["title"], data["body"])
        contents = [
            _inline_content(
                data["title"],
                data["body"],
                language,
                image_url=data.get("image_url", ""),
                click_url=data.get("url", ""),
            )
        ]
    for name in ("ttl", "priority", "collapse_key", "data"):
        if name in data:
            options[name] = data[name]
    if data.get("url"):
        options["url"] = data["url"]
    if data.get("image_url"):
        options["image_url"] = data["image_url"]

    if data.get("data"):
        # pp_* carries our delivery token and friends (FCM data pp_delivery, pp_notification, pp_url).
        reserved = [k for k in data["data"] if k.lower().startswith("pp_")]
        if app.kind == AppKind.FCM:
            reserved += [
                k
                for k in data["data"]
                if k in FCM_RESERVED_DATA_KEYS or k.startswith(FCM_RESERVED_DATA_PREFIXES)
            ]
        if reserved:
            raise ApiError(
                f"The data key {reserved[0]!r} is reserved.",
                code=ErrorCode.RESERVED_DATA_KEY,
                details={
                    "data": [
                        f"Reserved: {', '.join(reserved[:5])} (pp_* is PushPilot's; FCM reserves "
                        "from, notification, message_type, google.*, gcm.*)."
                    ]
                },
            )

    recipients = _resolve_target(target, app=app, segment_model=Segment, subscriber_model=Subscriber)
    limit = settings.PUSHPILOT_PLAN_MAX_RECIPIENTS.get(workspace.plan_type)
    if limit is not None:
        count = recipients() if callable(recipients) else recipients
        if count > limit:
            raise ApiError(
                f"This send targets {count} recipients; the {workspace.plan_type} plan allows {limit} "
                "per call. Narrow the target or split the send.",
                code=ErrorCode.RECIPIENT_LIMIT_EXCEEDED,
                details={
                    "target": [f"At most {limit} recipients per call on the {workspace.plan_type} plan."],
                    "limit": limit,
                    "requested": count,
                },
            )
    _check_payload_size(app.kind, contents, options)
    return dispatch.notification_send_now(
        app=app,
        contents=contents,
        target=target,
        options=options,
        default_language=language,
        throttle_per_minute=data.get("throttle_per_minute"),
        campaign=campaign,
        actor=actor,
        api_key=api_key,
        workspace_timezone=workspace.timezone or "UTC",
    )


def _inline_content(
    title: str, body: str, language: str, *, image_url: str = "", click_url: str = ""
) -> dict:
    return {
        "id": None,
        "language": language,
        "variant": "A",
        "weight": 1,
        "title": title,
        "body": body,
        "image_url": image_url or "",
        "click_url": click_url or "",
        "actions": [],
    }


def _check_copy(title: str, body: str) -> None:
    problems = []
    for field, text, limit in (
        ("title", title, personalization.TITLE_MAX),
        ("body", body, personalization.BODY_MAX),
    ):
        for problem in personalization.validate_copy(text, limit=limit, field=field):
            problems.append((field, problem))
    if problems:
        syntax = [p for p in problems if not p[1]["code"].endswith("_too_long")]
        field, first = (syntax or problems)[0]
        details: dict = {}
        for name, problem in problems:
            details.setdefault(name, []).append(problem["message"])
        raise ApiError(
            first["message"],
            code=ErrorCode.INVALID_PERSONALIZATION if syntax else ErrorCode.CONTENT_TOO_LONG,
            details=details,
        )


def _resolve_target(target: dict, *, app, segment_model, subscriber_model):
    """Check the target against this workspace and app; returns the recipient count (or a function
    that counts, for audiences)."""
    from integrations.models import AppKind
    from integrations.segments import subscribers_matching, validate_filter

    if "topic" in target:
        if app.kind != AppKind.FCM:
            raise ApiError(
                "Topics are an FCM feature; this app is Web Push.",
                code=ErrorCode.TOPIC_REQUIRES_FCM,
                details={"target": {"topic": ["Only FCM apps send to topics."]}},
            )
        return 1
    if "subscriber_ids" in target:
        ids = list(dict.fromkeys(target["subscriber_ids"]))
        elsewhere = list(
            subscriber_model.objects.filter(pk__in=ids)
            .exclude(app_id=app.pk)
            .values_list("pk", flat=True)[:10]
        )
        if elsewhere:
            raise ApiError(
                "Some subscribers belong to another app than app_id.",
                code=ErrorCode.TARGET_APP_MISMATCH,
                details={"target": {"subscriber_ids": [str(i) for i in elsewhere]}},
            )
        target["subscriber_ids"] = [str(i) for i in ids]
        return len(ids)
    if "external_user_ids" in target:
        target["external_user_ids"] = list(dict.fromkeys(target["external_user_ids"]))
        return len(target["external_user_ids"])
    if "segment_id" in target:
        segment = segment_model.objects.filter(pk=target["segment_id"]).first()
        if segment is None:
            raise ApiError(
                "segment_id names no segment of this workspace.",
                code=ErrorCode.SEGMENT_NOT_FOUND,
                details={"target": {"segment_id": ["No such segment in this workspace."]}},
            )
        if segment.filter.get("app_id") and str(segment.filter["app_id"]).replace("-", "") != app.pk.hex:
            raise ApiError(
                "The segment is defined for another app than app_id.",
                code=ErrorCode.TARGET_APP_MISMATCH,
                details={"target": {"segment_id": ["The segment filters on another app."]}},
            )
        target["segment_id"] = str(segment.pk)
        return lambda: subscribers_matching(segment.filter, app_id=app.pk).order_by().count()
    if "filter" in target:
        try:
            validate_filter(target["filter"])
        except serializers.ValidationError as exc:
            raise ApiError(
                "target.filter is not a valid segment filter.",
                code="invalid_target",
                details={"target": {"filter": exc.detail}},
            ) from None
        if target["filter"].get("app_id") and str(target["filter"]["app_id"]).replace("-", "") != app.pk.hex:
            raise ApiError(
                "The filter names another app than app_id.",
                code=ErrorCode.TARGET_APP_MISMATCH,
                details={"target": {"filter": {"app_id": ["Must be app_id or absent."]}}},
            )
        return lambda: subscribers_matching(target["filter"], app_id=app.pk).order_by().count()
    from integrations.models import SubscriberStatus

    return lambda: subscriber_model.objects.filter(app_id=app.pk, status=SubscriberStatus.ACTIVE).count()


def _check_payload_size(kind: str, contents: list[dict], options: dict) -> None:
    """413 when a message would not fit the provider's limit even before personalization."""
    from integrations.models import AppKind
    from integrations.transports.webpush import MAX_PLAINTEXT_BYTES

    worst = 0
    for content in contents:
        payload: dict = {"title": content["title"], "body": content["body"]}
        url = content.get("click_url") or options.get("url")
        image = content.get("image_url") or options.get("image_url")
        if url:
            payload["url"] = url
        if image:
            payload["image"] = image
        if content.get("actions"):
            payload["actions"] = content["actions"]
        data = options.get("data") or {}
        if kind == AppKind.FCM:
            fcm_data = {
                k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for k, v in data.items()
            }
            fcm_data.update(pp_delivery=TOKEN_PLACEHOLDER, pp_notification=str(uuid.uuid4()))
            if url:
                fcm_data["pp_url"] = url
            notification = {k: payload[k] for k in ("title", "body", "image") if k in payload}
            size = len(
                json.dumps(
                    {"notification": notification, "data": fcm_data},
                    separators=(",", ":"),
                    ensure_ascii=False,
                ).encode()
            )
            limit = FCM_MAX_PAYLOAD_BYTES
        else:
            if data:
                payload["data"] = data
            payload["pp"] = {"delivery": TOKEN_PLACEHOLDER, "notification": str(uuid.uuid4())}
            size = len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
            limit = MAX_PLAINTEXT_BYTES
        worst = max(worst, size - limit)
        if size > limit:
            raise ApiError(
                f"The message would be {size} bytes; {kind} accepts {limit}. Shorten data, url or image.",
                code=ErrorCode.PAYLOAD_TOO_LARGE,
                status_code=413,
                details={"payload": [f"{size} bytes of at most {limit}."], "size": size, "limit": limit},
            )


# ---------------------------------------------------------------------------------------------
# The detail view.


def notification_detail(notification: Notification) -> dict:
    out = NotificationSerializer(notification).data
    done, total = notification.done, notification.targeted
    out["progress"] = {
        "done": done,
        "total": total,
        "percent": round(100.0 * done / total, 1) if total else (100.0 if notification.is_final else 0.0),
        "batches": notification.batches_total,
        "fanout_complete": notification.fanout_complete,
    }
    start = notification.started_at
    end = notification.finished_at
    out["timing"] = {
        "scheduled_for": notification.scheduled_for,
        "created_at": notification.created_at,
        "started_at": start,
        "first_sent_at": notification.first_sent_at,
        "finished_at": end,
        "duration_seconds": round((end - start).total_seconds(), 3) if start and end else None,
        "first_send_delay_seconds": (
            round((notification.first_sent_at - notification.scheduled_for).total_seconds(), 3)
            if notification.first_sent_at
            else None
        ),
    }
    out["expected_finish_at"] = expected_finish_at(notification)
    out["failure_reasons"] = failure_reasons(notification)
    out["stop_message"] = notification.stop_message or None
    return out


def expected_finish_at(notification: Notification):
    if notification.is_final:
        return notification.finished_at
    start = notification.started_at
    if start is None:
        return None
    if notification.throttle_per_minute:
        remaining_minutes = max(notification.targeted, 1) / notification.throttle_per_minute
        return start + timedelta(minutes=remaining_minutes)
    done = notification.done
    if done and notification.fanout_complete:
        elapsed = timezone.now() - start
        return start + elapsed * (notification.targeted / done)
    return None


def failure_reasons(notification: Notification, limit: int = 5) -> list[dict]:
    from django.db.models import Count

    rows = (
        Delivery.objects.filter(
            notification=notification,
            status__in=[DeliveryStatus.FAILED, DeliveryStatus.INVALID, DeliveryStatus.SUPPRESSED],
        )
        .values("status", "error_code")
        .annotate(count=Count("id"))
        .order_by("-count", "error_code")[:limit]
    )
    return [{"status": r["status"], "code": r["error_code"] or "unknown", "count": r["count"]} for r in rows]
