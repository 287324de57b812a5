"""HTTP API of campaigns, contents, templates, schedules and image uploads (thin: services write)."""

from __future__ import annotations

import re

from django.core.files.storage import FileSystemStorage, storages
from django.http import FileResponse, Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns import scheduling, selectors, services
from campaigns import serializers as s
from campaigns.error_codes import CampaignErrorCode as E
from campaigns.models import Campaign, CampaignContent, Template
from pushpilot.api.errors import ApiError
from tenants.access import WorkspaceAccessMixin
from tenants.models import ApiKeyScope, Role

READ = ApiKeyScope.READ


def _valid(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def object_by_id(queryset, value):
    """The row with primary key ``value``; a malformed id reads the same as a missing row: 404."""
    parsed = selectors._uuid(value)
    found = queryset.filter(pk=parsed).first() if parsed else None
    if found is None:
        raise exceptions.NotFound()
    return found


class CampaignFilterBackend(DjangoFilterBackend):
    def get_filterset_kwargs(self, request, queryset, view):
        kwargs = super().get_filterset_kwargs(request, queryset, view)
        kwargs["data"] = selectors.split_commas(request.query_params)
        return kwargs


# -- campaigns --------------------------------------------------------------------------------------------
class CampaignViewSet(WorkspaceAccessMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Campaigns of the workspace. Viewers read; members and up write; API keys with ``read`` read."""

    queryset = Campaign.objects.all()
    serializer_class = s.CampaignSerializer
    filter_backends = [CampaignFilterBackend]
    filterset_class = selectors.CampaignFilter
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    api_key_scopes = {"list": READ, "retrieve": READ, "schedule_preview": READ}

    def scope_queryset(self, qs):
        return selectors.campaign_list(qs) if getattr(self, "action", None) == "list" else qs

    def get_object(self):
        return object_by_id(self.get_queryset(), self.kwargs["pk"])

    def _out(self, campaign: Campaign, code: int = status.HTTP_200_OK) -> Response:
        return Response(s.CampaignSerializer(campaign).data, status=code)

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, description="Comma-separated statuses."),
            OpenApiParameter("channel_type", str),
            OpenApiParameter("schedule_type", str),
            OpenApiParameter("app", str, description="App id."),
            OpenApiParameter("search", str),
            OpenApiParameter(
                "ordering",
                str,
                description="name, status, created_at, updated_at, scheduled_at, "
                "next_run_at; '-' for descending.",
            ),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def retrieve(self, request, pk=None):
        return self._out(self.get_object())

    @extend_schema(request=s.CampaignCreateSerializer, responses={201: s.CampaignSerializer})
    def create(self, request):
        data = _valid(s.CampaignCreateSerializer, request.data)
        campaign = services.campaign_create(workspace=self.workspace, actor=self.actor, data=data)
        return self._out(campaign, status.HTTP_201_CREATED)

    @extend_schema(request=s.CampaignUpdateSerializer, responses={200: s.CampaignSerializer})
    def partial_update(self, request, pk=None):
        campaign = self.get_object()
        data = _valid(s.CampaignUpdateSerializer, request.data, partial=True)
        return self._out(services.campaign_update(campaign=campaign, actor=self.actor, data=data))

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        services.campaign_delete(campaign=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.ScheduleRequestSerializer, responses={200: s.CampaignSerializer})
    @action(detail=True, methods=["post"])
    def schedule(self, request, pk=None):
        """Schedule (or, for send_now, send at once). ``scheduled_at`` with an offset is an instant;
        without one it is wall-clock time in ``timezone``."""
        campaign = self.get_object()
        data = _valid(s.ScheduleRequestSerializer, request.data)
        campaign = services.campaign_schedule(
            campaign=campaign,
            workspace=self.workspace,
            actor=self.actor,
            at=data.get("scheduled_at") or None,
            timezone=data.get("timezone") or None,
            rule=data.get("recurrence_rule") or None,
        )
        return self._out(campaign)

    @extend_schema(request=None, responses={200: s.CampaignSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._out(services.campaign_cancel(campaign=self.get_object(), actor=self.actor))

    @extend_schema(request=None, responses={200: s.CampaignSerializer})
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._out(services.campaign_pause(campaign=self.get_object(), actor=self.actor))

    @extend_schema(request=None, responses={200: s.CampaignSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._out(services.campaign_resume(campaign=self.get_object(), actor=self.actor))

    @extend_schema(
        parameters=[s.SchedulePreviewQuerySerializer], responses={200: s.SchedulePreviewResponseSerializer}
    )
    @action(detail=True, methods=["get"], url_path="schedule/preview", url_name="schedule-preview")
    def schedule_preview(self, request, pk=None):
        """The campaign's next N runs in its time zone (``count`` ≤ 100)."""
        campaign = self.get_object()
        count = _valid(s.SchedulePreviewQuerySerializer, request.query_params.dict())["count"]
        return Response(_campaign_preview(campaign, count=count, plan=self.workspace.plan_type))

    @extend_schema(request=s.ApplyTemplateSerializer, responses={201: s.ContentSerializer})
    @action(detail=True, methods=["post"], url_path="apply-template", url_name="apply-template")
    def apply_template(self, request, pk=None):
        """Copy a workspace or global template into a new content of this campaign."""
        campaign = self.get_object()
        data = _valid(s.ApplyTemplateSerializer, request.data)
        template = selectors.template_get(data.pop("template_id"))
        if template is None:
            raise ApiError(
                "template_id names no template of this workspace or the global library.",
                code=E.TEMPLATE_NOT_FOUND,
                details={"template_id": ["No such template."]},
            )
        content = services.template_apply(
            campaign=campaign, template=template, actor=self.actor, overrides=data
        )
        return Response(s.ContentSerializer(content).data, status=status.HTTP_201_CREATED)


def _campaign_preview(campaign: Campaign, *, count: int, plan: str) -> dict:
    from django.utils import timezone as dj_timezone

    from campaigns.models import ScheduleType

    zone = scheduling.get_zone(campaign.timezone)
    now = dj_timezone.now()
    body = {
        "timezone": zone.key,
        "schedule_type": campaign.schedule_type,
        "occurrences": [],
        "schedulable": True,
        "reason": None,
        "reason_code": None,
    }
    try:
        schedule = (
            scheduling.campaign_schedule_for(campaign)
            if campaign.schedule_type == ScheduleType.RECURRING
            else None
        )
    except scheduling.RuleError as exc:
        raise services._rule_error(exc) from None
    if schedule is not None:
        body["occurrences"] = [o.isoformat() for o in schedule.occurrences(after=now, count=count)]
        verdict = scheduling.check_frequency(schedule, plan=plan)
        body.update(
            rule=schedule.rule.value(),
            dtstart=schedule.dtstart.isoformat(),
            schedulable=verdict.ok,
            reason=verdict.reason,
            reason_code=verdict.code,
        )
    elif campaign.scheduled_at is not None and campaign.scheduled_at > now:
        body["occurrences"] = [campaign.scheduled_at.astimezone(zone).isoformat()]
    if (
        not body["occurrences"]
        and schedule is None
        and campaign.schedule_type != ScheduleType.SEND_NOW
        and campaign.scheduled_at is None
    ):
        body.update(
            schedulable=False,
            reason_code=E.SCHEDULED_AT_REQUIRED.value,
            reason="No schedule yet: set scheduled_at (and a recurrence_rule for a recurring campaign).",
        )
    return body


class SchedulePreviewView(WorkspaceAccessMixin, APIView):
    """Occurrences of any valid rule from any DTSTART (past included), for the schedule editor, and
    whether this workspace's plan allows scheduling it."""

    action_roles = {"post": Role.VIEWER}
    api_key_scopes = {"post": READ}

    @extend_schema(
        request=s.SchedulePreviewRequestSerializer, responses={200: s.SchedulePreviewResponseSerializer}
    )
    def post(self, request):
        data = _valid(s.SchedulePreviewRequestSerializer, request.data)
        try:
            parsed = scheduling.parse_rule(data["rule"])
            zone_name = data.get("timezone") or parsed.dtstart_tzid or self.workspace.timezone
            schedule = scheduling.build_schedule(
                rule=parsed,
                timezone=zone_name,
                dtstart=data.get("dtstart") or None,
                exdates=data.get("exdates"),
            )
        except scheduling.RuleError as exc:
            if exc.part == "DTSTART" and not data.get("dtstart"):
                raise ApiError(exc.message, code=exc.code, details={"dtstart": [exc.message]}) from None
            raise services._rule_error(exc) from None
        return Response(scheduling.preview(schedule, count=data["count"], plan=self.workspace.plan_type))


# -- contents ----------------------------------------------------------------------------------------------
class CampaignContentViewSet(WorkspaceAccessMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """``/campaigns/{campaign_pk}/contents/``: the copy of a campaign, per language and A/B variant."""

    queryset = CampaignContent.objects.all()
    serializer_class = s.ContentSerializer
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    api_key_scopes = {"list": READ, "retrieve": READ}

    def _campaign(self) -> Campaign:
        if not hasattr(self, "_campaign_cache"):
            self._campaign_cache = object_by_id(Campaign.objects.all(), self.kwargs["campaign_pk"])
        return self._campaign_cache

    def scope_queryset(self, qs):
        return qs.filter(campaign=self._campaign()).order_by("created_at", "id")

    def get_object(self):
        return object_by_id(self.get_queryset(), self.kwargs["pk"])

    def retrieve(self, request, campaign_pk=None, pk=None):
        return Response(s.ContentSerializer(self.get_object()).data)

    @extend_schema(request=s.ContentCreateSerializer, responses={201: s.ContentSerializer})
    def create(self, request, campaign_pk=None):
        campaign = self._campaign()
        data = _valid(s.ContentCreateSerializer, request.data)
        content = services.content_create(campaign=campaign, actor=self.actor, data=data)
        return Response(s.ContentSerializer(content).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ContentUpdateSerializer, responses={200: s.ContentSerializer})
    def partial_update(self, request, campaign_pk=None, pk=None):
        content = self.get_object()
        data = _valid(s.ContentUpdateSerializer, request.data, partial=True)
        return Response(
            s.ContentSerializer(services.content_update(content=content, actor=self.actor, data=data)).data
        )

    @extend_schema(responses={204: None})
    def destroy(self, request, campaign_pk=None, pk=None):
        services.content_delete(content=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- templates ---------------------------------------------------------------------------------------------
class TemplateViewSet(WorkspaceAccessMixin, viewsets.GenericViewSet):
    """Workspace templates (read/write) listed together with the global library (``is_global``,
    read-only: PATCH/DELETE on one is 403 ``global_template_readonly``)."""

    queryset = Template.objects.all()
    serializer_class = s.TemplateSerializer
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    api_key_scopes = {"list": READ, "retrieve": READ}

    def get_object(self):
        template = selectors.template_get(self.kwargs["pk"])
        if template is None:
            raise exceptions.NotFound()
        return template

    @extend_schema(
        parameters=[
            OpenApiParameter("category", str),
            OpenApiParameter("is_global", bool),
            OpenApiParameter("search", str),
            OpenApiParameter("language", str),
            OpenApiParameter(
                "ordering", str, description="name, category, created_at, updated_at, is_global"
            ),
        ],
        responses={200: s.TemplateSerializer(many=True)},
    )
    def list(self, request):
        params = request.query_params
        is_global = params.get("is_global")
        if is_global not in (None, "", "true", "false", "1", "0"):
            raise exceptions.ValidationError({"is_global": ["Use true or false."]})
        rows = selectors.template_listing(
            category=(params.get("category") or None),
            search=(params.get("search") or "")[:200] or None,
            language=(params.get("language") or "")[:35] or None,
            is_global=None if is_global in (None, "") else is_global in ("true", "1"),
            ordering=[o.strip() for o in params.get("ordering", "").split(",") if o.strip()],
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(s.TemplateSerializer(page, many=True).data)

    @extend_schema(responses={200: s.TemplateSerializer})
    def retrieve(self, request, pk=None):
        return Response(s.TemplateSerializer(self.get_object()).data)

    @extend_schema(request=s.TemplateCreateSerializer, responses={201: s.TemplateSerializer})
    def create(self, request):
        data = _valid(s.TemplateCreateSerializer, request.data)
        template = services.template_create(actor=self.actor, data=data)
        return Response(s.TemplateSerializer(template).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.TemplateUpdateSerializer, responses={200: s.TemplateSerializer})
    def partial_update(self, request, pk=None):
        template = self.get_object()
        services.template_assert_editable(template)  # a global one is 403 whatever the body says
        data = _valid(s.TemplateUpdateSerializer, request.data, partial=True)
        return Response(
            s.TemplateSerializer(
                services.template_update(template=template, actor=self.actor, data=data)
            ).data
        )

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        services.template_delete(template=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- uploads ------------------------------------------------------------------------------------------------
class UploadView(WorkspaceAccessMixin, APIView):
    """``POST /uploads/`` multipart ``image`` (PNG, JPEG, WebP or GIF, ≤ 1 MiB) → {url, …}."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": s.UploadRequestSerializer},
        responses={201: s.UploadResponseSerializer},
    )
    def post(self, request):
        data = _valid(s.UploadRequestSerializer, request.data)
        stored = services.upload_image(workspace=self.workspace, upload=data["image"])
        if stored["url"].startswith("/"):
            stored["url"] = request.build_absolute_uri(stored["url"])
        return Response(stored, status=status.HTTP_201_CREATED)


_UPLOAD_NAME_RE = re.compile(r"^workspaces/[0-9a-f-]{36}/images/[0-9a-f]{32}\.(png|jpg|webp|gif)$")


def serve_upload(request, path: str):
    """Uploaded images from local storage (``MEDIA_URL``), public because devices fetch them.

    Only names the upload service makes are served; with S3 storage the URLs point at the bucket."""
    storage = storages["default"]
    if (
        not _UPLOAD_NAME_RE.match(path)
        or not isinstance(storage, FileSystemStorage)
        or not storage.exists(path)
    ):
        raise Http404
    content_type = next(t for ext, t in services.IMAGE_FORMATS.values() if path.endswith("." + ext))
    response = FileResponse(storage.open(path, "rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=31536000, immutable"  # names are random and never reused
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response
