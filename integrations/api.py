"""HTTP API for apps, subscribers and segments (``/api/v1/…``), all on the one workspace view base.

Roles: reading is for every member; apps are written by admins and owners, subscribers and
segments by members. API keys: ``read`` lists and reads, ``subscribers:write`` writes subscribers
and segments, ``send`` may send a test message; keys never manage apps.
"""

from __future__ import annotations

import contextlib
import uuid

import django_filters
from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from integrations import selectors, services
from integrations import serializers as s
from integrations.models import App, AppKind, Platform, Segment, Subscriber, SubscriberStatus
from integrations.segments import segment_count, segment_sample
from pushpilot.api.errors import ApiError
from tenants.access import WorkspaceAccessMixin
from tenants.models import Role

READ = "read"
SUBSCRIBERS_WRITE = "subscribers:write"
SEND = "send"


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _valid(serializer_class, request, **kwargs) -> dict:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _get(view, pk):
    """The row of this workspace with id ``pk``; a malformed id reads the same as a foreign one."""
    try:
        return view.get_queryset().get(pk=uuid.UUID(str(pk)))
    except (ValueError, view.queryset.model.DoesNotExist):
        raise exceptions.NotFound() from None


class _Audited:
    def audit_kwargs(self) -> dict:
        return {"actor": self.actor, "api_key": self.api_key, "ip": client_ip(self.request)}


# -- apps ---------------------------------------------------------------------------------------
class AppViewSet(_Audited, WorkspaceAccessMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Connected apps: Firebase (FCM HTTP v1) projects and Web Push (VAPID) sites."""

    read_role = Role.VIEWER
    write_role = Role.ADMIN
    action_roles = {"send_test": Role.MEMBER}
    api_key_scopes = {"list": READ, "retrieve": READ, "send_test": SEND}
    queryset = App.objects.order_by("created_at", "id")
    serializer_class = s.AppSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(responses={200: s.AppSerializer})
    def retrieve(self, request, pk):
        return Response(s.AppSerializer(_get(self, pk)).data)

    @extend_schema(request=s.AppCreateSerializer, responses={201: s.AppSerializer})
    def create(self, request):
        data = _valid(s.AppCreateSerializer, request)
        app = services.app_create(workspace=self.workspace, **data, **self.audit_kwargs())
        return Response(s.AppSerializer(app).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.AppUpdateSerializer, responses={200: s.AppSerializer})
    def partial_update(self, request, pk):
        app = _get(self, pk)
        data = _valid(s.AppUpdateSerializer, request, context={"app": app})
        app = services.app_update(workspace=self.workspace, app=app, **data, **self.audit_kwargs())
        return Response(s.AppSerializer(app).data)

    def destroy(self, request, pk):
        services.app_delete(workspace=self.workspace, app=_get(self, pk), **self.audit_kwargs())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: s.AppSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-sdk-key", url_name="rotate-sdk-key")
    def rotate_sdk_key(self, request, pk):
        app = services.app_rotate_sdk_key(workspace=self.workspace, app=_get(self, pk), **self.audit_kwargs())
        return Response(s.AppSerializer(app).data)

    @extend_schema(request=s.AppTestSerializer, responses={200: s.AppTestResultSerializer})
    @action(detail=True, methods=["post"], url_path="test", url_name="test")
    def send_test(self, request, pk):
        return _send_test(self, request, _get(self, pk))


def _send_test(view, request, app: App) -> Response:
    data = _valid(s.AppTestSerializer, request)
    subscriber = None
    if "subscriber_id" in data:
        subscriber = selectors.subscriber_of_app(app=app, subscriber_id=data["subscriber_id"])
        if subscriber is None:
            raise exceptions.ValidationError({"subscriber_id": ["No subscriber with this id in this app."]})
    result = services.app_send_test(
        workspace=view.workspace,
        app=app,
        subscriber=subscriber,
        fcm_token=data.get("fcm_token"),
        subscription=data.get("subscription"),
        title=data["title"],
        body=data["body"],
        url=data.get("url"),
    )
    return Response({"outcome": result.outcome, "provider_response": result.provider_response})


# -- the seed's Firebase routes: aliases on the workspace's default FCM app -----------------------
class _FirebaseBase(_Audited, WorkspaceAccessMixin, generics.GenericAPIView):
    workspace_url_kwarg = "workspace_pk"
    read_role = Role.VIEWER
    write_role = Role.ADMIN
    queryset = App.objects.filter(kind=AppKind.FCM)
    serializer_class = s.AppSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def default_app(self) -> App:
        app = selectors.app_default(kind=AppKind.FCM)
        if app is None:
            raise ApiError(
                "No Firebase project is connected to this workspace yet.",
                code="firebase_not_connected",
                status_code=404,
            )
        return app


class FirebaseView(_FirebaseBase):
    """``/workspaces/{id}/firebase``: GET shows the default FCM app (masked), POST connects a
    Firebase project (or replaces the default app's service account), PATCH updates it."""

    api_key_scopes = {"get": READ}

    @extend_schema(responses={200: s.AppSerializer})
    def get(self, request, workspace_pk):
        return Response(s.AppSerializer(self.default_app()).data)

    @extend_schema(
        request=s.FirebaseConnectSerializer, responses={200: s.AppSerializer, 201: s.AppSerializer}
    )
    def post(self, request, workspace_pk):
        data = _valid(s.FirebaseConnectSerializer, request)
        existing = selectors.app_default(kind=AppKind.FCM)
        if existing is not None:
            app = services.app_update(
                workspace=self.workspace,
                app=existing,
                name=data.get("name"),
                service_account=data["service_account"],
                **self.audit_kwargs(),
            )
            return Response(s.AppSerializer(app).data)
        name = data.get("name") or f"Firebase ({data['service_account']['project_id']})"
        app = services.app_create(
            workspace=self.workspace,
            kind=AppKind.FCM,
            name=name,
            service_account=data["service_account"],
            **self.audit_kwargs(),
        )
        return Response(s.AppSerializer(app).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.FirebaseUpdateSerializer, responses={200: s.AppSerializer})
    def patch(self, request, workspace_pk):
        data = _valid(s.FirebaseUpdateSerializer, request)
        app = services.app_update(
            workspace=self.workspace,
            app=self.default_app(),
            name=data.get("name"),
            service_account=data.get("service_account"),
            **self.audit_kwargs(),
        )
        return Response(s.AppSerializer(app).data)


class FirebaseTestView(_FirebaseBase):
    """``/workspaces/{id}/firebase/test``: a test message through the default FCM app."""

    write_role = Role.MEMBER
    api_key_scopes = {"post": SEND}

    @extend_schema(request=s.AppTestSerializer, responses={200: s.AppTestResultSerializer})
    def post(self, request, workspace_pk):
        return _send_test(self, request, self.default_app())


# -- subscribers --------------------------------------------------------------------------------
class SubscriberFilter(django_filters.FilterSet):
    """The only query parameters that reach the ORM."""

    tag = django_filters.CharFilter(
        method="filter_tag",
        max_length=64,
        help_text="Subscribers with this tag (repeat the parameter: any of them).",
    )
    status = django_filters.ChoiceFilter(choices=SubscriberStatus.choices)
    platform = django_filters.ChoiceFilter(choices=Platform.choices)
    kind = django_filters.ChoiceFilter(choices=AppKind.choices)
    app = django_filters.UUIDFilter(field_name="app_id")
    external_user_id = django_filters.CharFilter(field_name="external_user_id", max_length=255)
    locale = django_filters.CharFilter(field_name="locale", max_length=35)
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=255,
        help_text="Matches the subscriber id or the start of external_user_id.",
    )
    ordering = django_filters.OrderingFilter(fields=("created_at", "last_seen_at", "external_user_id"))

    class Meta:
        model = Subscriber
        fields: list[str] = []

    def filter_tag(self, queryset, name, value):
        tags = [t for t in self.request.query_params.getlist("tag") if t] if self.request else [value]
        if len(tags) > 20 or any(len(t) > 64 or "\x00" in t for t in tags):
            raise exceptions.ValidationError({"tag": ["At most 20 tags of at most 64 characters."]})
        return queryset.filter(tags__overlap=tags or [value])

    def filter_search(self, queryset, name, value):
        value = value.strip()
        q = Q(external_user_id__istartswith=value)
        with contextlib.suppress(ValueError):
            q |= Q(pk=uuid.UUID(value))
        return queryset.filter(q)


class SubscriberViewSet(WorkspaceAccessMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Devices and browsers of the workspace's apps. Web Push endpoints and FCM tokens are never
    returned once stored."""

    read_role = Role.VIEWER
    write_role = Role.MEMBER
    api_key_scopes = {
        "list": READ,
        "retrieve": READ,
        "create": SUBSCRIBERS_WRITE,
        "partial_update": SUBSCRIBERS_WRITE,
        "destroy": SUBSCRIBERS_WRITE,
        "import_csv": SUBSCRIBERS_WRITE,
    }
    queryset = Subscriber.objects.all()
    serializer_class = s.SubscriberSerializer
    filterset_class = SubscriberFilter

    def scope_queryset(self, qs):
        if self.action == "list" and "ordering" not in self.request.query_params:
            return qs.order_by("-created_at", "id")
        return qs

    @extend_schema(responses={200: s.SubscriberSerializer})
    def retrieve(self, request, pk):
        return Response(s.SubscriberSerializer(_get(self, pk)).data)

    @extend_schema(
        request=s.SubscriberCreateSerializer,
        responses={200: s.SubscriberSerializer, 201: s.SubscriberSerializer},
    )
    def create(self, request):
        app = _app_of_body(request)
        data = dict(_valid(s.SubscriberCreateSerializer, request, context={"app": app}))
        data.pop("app_id")
        subscriber, created = services.subscriber_upsert(
            app=app,
            fcm_token=data.pop("fcm_token", None),
            subscription=data.pop("subscription", None),
            profile=data,
        )
        return Response(
            s.SubscriberSerializer(subscriber).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(request=s.SubscriberUpdateSerializer, responses={200: s.SubscriberSerializer})
    def partial_update(self, request, pk):
        subscriber = _get(self, pk)
        data = _valid(s.SubscriberUpdateSerializer, request)
        subscriber = services.subscriber_update(subscriber=subscriber, changes=data)
        return Response(s.SubscriberSerializer(subscriber).data)

    def destroy(self, request, pk):
        services.subscriber_delete(subscriber=_get(self, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request={"multipart/form-data": s.SubscriberImportSerializer},
        responses={200: s.ImportReportSerializer},
        parameters=[OpenApiParameter("app_id", str, description="The app of rows without an app_id column.")],
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        url_name="import",
        parser_classes=[MultiPartParser, FormParser],
    )
    def import_csv(self, request):
        data = _valid(s.SubscriberImportSerializer, request)
        default_app = None
        if data.get("app_id"):
            default_app = selectors.app_get(app_id=data["app_id"])
            if default_app is None:
                raise exceptions.ValidationError({"app_id": ["No app with this id in this workspace."]})
        elif selectors.app_list().count() == 1:
            default_app = selectors.app_list().first()
        report = services.subscribers_import_csv(
            lines=services.decoded_lines(data["file"]), default_app=default_app
        )
        return Response(report.as_dict())


def _app_of_body(request) -> App:
    raw = request.data.get("app_id") if hasattr(request.data, "get") else None
    app = selectors.app_get(app_id=raw) if raw else None
    if app is None:
        raise exceptions.ValidationError(
            {
                "app_id": [
                    "Required: the id of one of this workspace's apps."
                    if not raw
                    else "No app with this id in this workspace."
                ]
            }
        )
    return app


# -- segments -----------------------------------------------------------------------------------
class SegmentViewSet(WorkspaceAccessMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Saved audiences: a JSON filter over subscribers (see ``integrations.segments``)."""

    read_role = Role.VIEWER
    write_role = Role.MEMBER
    # Counting and previewing read; POST /segments/preview is a read with a body.
    action_roles = {"preview": Role.VIEWER}
    api_key_scopes = {
        "list": READ,
        "retrieve": READ,
        "count": READ,
        "preview": READ,
        "create": SUBSCRIBERS_WRITE,
        "partial_update": SUBSCRIBERS_WRITE,
        "destroy": SUBSCRIBERS_WRITE,
    }
    queryset = Segment.objects.order_by("name", "id")
    serializer_class = s.SegmentSerializer

    @extend_schema(responses={200: s.SegmentSerializer})
    def retrieve(self, request, pk):
        return Response(s.SegmentSerializer(_get(self, pk)).data)

    @extend_schema(request=s.SegmentSerializer, responses={201: s.SegmentSerializer})
    def create(self, request):
        data = _valid(s.SegmentSerializer, request)
        segment = services.segment_create(
            name=data["name"],
            filter_=data["filter"],
            description=data.get("description", ""),
            actor=self.actor,
        )
        return Response(s.SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.SegmentSerializer, responses={200: s.SegmentSerializer})
    def partial_update(self, request, pk):
        segment = _get(self, pk)
        data = _valid(s.SegmentSerializer, request, partial=True)
        segment = services.segment_update(segment=segment, changes=dict(data))
        return Response(s.SegmentSerializer(segment).data)

    def destroy(self, request, pk):
        services.segment_delete(segment=_get(self, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: s.SegmentCountSerializer})
    @action(detail=True, methods=["get"], url_path="count", url_name="count")
    def count(self, request, pk):
        segment = _get(self, pk)
        return Response({"count": segment_count(segment.filter)})

    @extend_schema(request=s.SegmentPreviewSerializer, responses={200: s.SegmentPreviewResultSerializer})
    @action(detail=False, methods=["post"], url_path="preview", url_name="preview")
    def preview(self, request):
        data = _valid(s.SegmentPreviewSerializer, request)
        sample = segment_sample(data["filter"], size=data["sample_size"])
        return Response(
            {"count": segment_count(data["filter"]), "sample": s.SubscriberSerializer(sample, many=True).data}
        )
