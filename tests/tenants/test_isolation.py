"""Two workspaces never see each other: every workspace endpoint in the URL conf, every method it
answers, called by a member of the other workspace, with the other workspace's API key and with a
forged ``X-Workspace-ID``, is a 404 that names nothing of the target and changes nothing.

The endpoints are enumerated from ``django.urls.get_resolver()`` (every ``/api/v1/`` view built on
``tenants.access.WorkspaceAccessMixin``), so a new endpoint is covered the day it is routed. Its
path parameters are filled with real ids of rows in the target workspace: add a seeder to
``SEEDERS`` when a new model needs one.
"""

from __future__ import annotations

import uuid

import pytest
from django.apps import apps
from django.db import connection
from django.urls import resolve, reverse
from django_tenants.utils import schema_context

from tenants import services
from tenants.access import WorkspaceAccessMixin
from tenants.models import ApiKey, AuditLog, Invitation, Membership, Role, Workspace
from tests.tenants.support import (  # noqa: F401 - autouse fixtures and the shared world
    _shared_alice,
    _shared_bob,
    _shared_charlie,
    _shared_ws_a,
    _shared_ws_b,
    base_schema_once,
    fast_tenancy,
    http_methods_of,
    is_api_v1,
    shared_world,
    view_class_of,
    walk_urlconf,
    workspace_routes,
)

pytestmark = pytest.mark.django_db

# /api/v1/ routes that are deliberately not workspace-scoped (accounts, and the list of my workspaces).
# Anything else under /api/v1/ must be built on WorkspaceAccessMixin.
NON_WORKSPACE_ROUTES = {
    "auth-register",
    "auth-login",
    "auth-refresh",
    "auth-logout",
    "auth-me",
    "auth-google",
    "auth-apple",
    "invitation-accept",
    "workspace-list",
}


# model label -> function(workspace) that creates one row of it in that workspace's schema, through
# the owning app's services. Public-schema tenants models are seeded by the `target` fixture below.
# Seeders run in order (a campaign needs an app), each only if the workspace has no row of it yet.
def _seed_app(workspace):
    from integrations import services as integrations

    integrations.app_create(
        workspace=workspace,
        kind="web_push",
        name="Alpha site",
        subject="mailto:ops@alpha.test",
        actor=workspace.owner,
    )


def _seed_subscriber(workspace):
    from integrations import services as integrations
    from integrations.models import App

    integrations.subscriber_upsert(
        app=App.objects.first(),
        subscription={
            "endpoint": "https://fcm.googleapis.com/fcm/send/alpha-isolation",
            "keys": {"p256dh": "B" * 87, "auth": "A" * 22},
        },
        profile={"external_user_id": "alpha-user-1"},
    )


def _seed_segment(workspace):
    from integrations import services as integrations

    integrations.segment_create(name="Alpha regulars", filter_={}, actor=workspace.owner)


def _seed_campaign(workspace):
    from campaigns import services as campaigns
    from integrations.models import App

    campaigns.campaign_create(
        workspace=workspace,
        actor=workspace.owner,
        data={"name": "Alpha launch", "channel_type": "web_push", "app_id": App.objects.first().pk},
    )


def _seed_content(workspace):
    from campaigns import services as campaigns
    from campaigns.models import Campaign

    campaigns.content_create(
        campaign=Campaign.objects.first(),
        actor=workspace.owner,
        data={"title": "Alpha title", "body": "Alpha body"},
    )


def _seed_template(workspace):
    from campaigns import services as campaigns

    campaigns.template_create(
        actor=workspace.owner, data={"name": "Alpha template", "title": "Alpha title", "body": "Alpha body"}
    )


def _seed_notification(workspace):
    from campaigns.dispatch import notification_send_now
    from integrations.models import App

    # Its fan-out is published on commit, which a test's transaction never reaches.
    notification_send_now(
        app=App.objects.first(),
        contents=[{"language": "en", "variant": "A", "weight": 1, "title": "Alpha", "body": "Alpha body"}],
        target={"all": True},
        options={},
        actor=workspace.owner,
    )


SEEDERS: dict = {
    "integrations.App": _seed_app,
    "integrations.Subscriber": _seed_subscriber,
    "integrations.Segment": _seed_segment,
    "campaigns.Campaign": _seed_campaign,
    "campaigns.CampaignContent": _seed_content,
    "campaigns.Template": _seed_template,
    "campaigns.Notification": _seed_notification,
}

ROUTES = workspace_routes()


def _route_id(entry) -> str:
    route, name, _pattern = entry
    return name or route


# Plausible, valid bodies: if isolation ever broke, the request would really change the target.
def _body(name: str, method: str, target, attacker) -> dict:
    return {
        ("workspace-detail", "patch"): {"name": "Taken over", "timezone": "Asia/Tokyo"},
        ("workspace-detail", "delete"): {"confirm": target["workspace"].slug},
        ("workspace-transfer", "post"): {"user_id": str(attacker.pk)},
        ("member-list", "post"): {"email": "mallory@example.com", "role": "admin"},
        ("member-detail", "patch"): {"role": "viewer"},
        ("api-key-list", "post"): {"name": "stolen", "scopes": ["send", "read"]},
    }.get((name, method), {})


@pytest.fixture
def target(ws_a, alice, bob, api_key_for):
    """Workspace A with a row of every kind its endpoints can name."""
    invitation = services.invitation_create(
        workspace=ws_a, email="pending@example.com", role=Role.VIEWER, actor=alice
    )
    api_key_for(ws_a, name="a-server")
    for label, seed in SEEDERS.items():
        try:
            model = apps.get_model(label)
        except LookupError:
            continue  # not built yet
        if _first_id(model, ws_a) is None:
            with schema_context(ws_a.schema_name):
                seed(ws_a)
        assert _first_id(model, ws_a) is not None, label
    key = ApiKey.objects.get(workspace=ws_a)
    tenant_secrets = {
        str(value)
        for rows in _tenant_rows(ws_a).values()
        for row in rows
        for field, value in row.items()
        if value and (field == "id" or field in _IDENTIFYING_FIELDS)
    }
    return {
        "workspace": ws_a,
        "invitation": invitation,
        "api_key": key,
        # Strings that must never appear in an answer to an outsider.
        "secrets": {
            str(ws_a.pk),
            ws_a.pk.hex,
            ws_a.slug,
            ws_a.name,
            ws_a.schema_name,
            alice.email,
            bob.email,
            str(alice.pk),
            str(bob.pk),
            invitation.email,
            str(invitation.pk),
            str(key.pk),
            key.prefix,
            key.name,
            *(str(m.pk) for m in Membership.objects.filter(workspace=ws_a)),
            *tenant_secrets,
        },
    }


# Values of a workspace's own rows that would identify them in an answer.
_IDENTIFYING_FIELDS = {"name", "title", "body", "sdk_key", "endpoint", "fcm_token", "external_user_id"}


def _tenant_models():
    from django.conf import settings

    labels = {a.rsplit(".", 1)[-1] for a in settings.TENANT_APPS} - {"contenttypes"}
    return [m for m in apps.get_models() if m._meta.app_label in labels]


def _tenant_rows(workspace: Workspace) -> dict:
    """Every row of every tenant-schema model in ``workspace``'s schema."""
    with schema_context(workspace.schema_name):
        return {m._meta.label: list(m.objects.order_by("pk").values()) for m in _tenant_models()}


@pytest.fixture
def attacker(ws_b, charlie):
    return charlie


@pytest.fixture
def attacker_key(ws_b, api_key_for):
    return api_key_for(ws_b, name="b-server")


def _first_id(model, workspace: Workspace):
    if model is Workspace:
        return workspace.pk
    if any(f.name == "workspace" for f in model._meta.get_fields()):
        return model.objects.filter(workspace=workspace).values_list("pk", flat=True).first()
    with schema_context(workspace.schema_name):
        return model.objects.values_list("pk", flat=True).first()


def _model_for_kwarg(kwarg: str, view_cls):
    if kwarg in (
        "pk",
        getattr(view_cls, "lookup_url_kwarg", None) or getattr(view_cls, "lookup_field", "pk"),
    ):
        return view_cls.queryset.model
    stem = kwarg.removesuffix("_pk").removesuffix("_id").replace("_", "")
    for model in apps.get_models():
        if model._meta.model_name == stem:
            return model
    return None


def _path_for(entry, *, workspace_ref, objects_of: Workspace) -> str:
    """The route's path with its workspace kwarg = ``workspace_ref`` and every other kwarg = the id of
    a real row of ``objects_of``."""
    route, name, pattern = entry
    view_cls = view_class_of(pattern)
    kwargs = {}
    for kwarg in pattern.pattern.regex.groupindex:
        if kwarg == view_cls.workspace_url_kwarg:
            kwargs[kwarg] = str(workspace_ref)
            continue
        model = _model_for_kwarg(kwarg, view_cls)
        if model is None:
            pytest.fail(f"{route}: cannot tell which model '{kwarg}' names; teach _model_for_kwarg")
        value = _first_id(model, objects_of)
        if value is None:
            pytest.fail(
                f"{route}: no {model._meta.label} row in the target workspace; add a seeder to SEEDERS "
                f"in {__name__}"
            )
        kwargs[kwarg] = str(value)
    assert name, f"{route} has no URL name; name it so it can be reversed"
    path = reverse(name, kwargs=kwargs)
    assert resolve(path).url_name == pattern.name, (path, route)
    return path


def _snapshot(workspace: Workspace):
    ws = (
        Workspace.objects.filter(pk=workspace.pk)
        .values("name", "slug", "owner_id", "plan_type", "timezone", "updated_at")
        .first()
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [workspace.schema_name]
        )
        schema = cursor.fetchone() is not None
    return {
        "workspace": ws,
        "schema": schema,
        "members": sorted(Membership.objects.filter(workspace=workspace).values_list("user_id", "role")),
        "invitations": sorted(
            Invitation.objects.filter(workspace=workspace).values_list(
                "id", "revoked_at", "accepted_at", "role"
            )
        ),
        "api_keys": sorted(
            ApiKey.objects.filter(workspace=workspace).values_list("id", "revoked_at", "name")
        ),
        "audit": AuditLog.objects.filter(workspace=workspace).count(),
        "tenant_rows": _tenant_rows(workspace),
    }


def _assert_hidden(response, target, *, context):
    assert response.status_code == 404, (context, response.status_code, response.content[:400])
    text = response.content.decode()
    if response.request["REQUEST_METHOD"] != "HEAD":
        assert response.json()["error"]["code"] == "not_found", (context, text)
    _assert_no_leak(response, target, context=context)


def _assert_no_leak(response, target, *, context):
    text = response.content.decode()
    blob = text + " ".join(f"{k}: {v}" for k, v in response.items())
    leaked = sorted(s for s in target["secrets"] if s and s in blob)
    assert not leaked, (context, leaked, text)


def _attacks(entry, target, ws_b, attacker, attacker_key, api, make_user):
    """Yield (description, client, method-independent request kwargs) for each way in."""
    _route, _name, pattern = entry
    view_cls = view_class_of(pattern)
    ws_a = target["workspace"]
    path_scoped = view_cls.workspace_url_kwarg is not None
    has_objects = len(pattern.pattern.regex.groupindex) > (1 if path_scoped else 0)
    stranger = make_user("stranger@example.com")

    def path(ws_ref):
        return _path_for(entry, workspace_ref=ws_ref, objects_of=ws_a)

    # (a) a member of the other workspace, naming the target by id and by slug.
    for ref in (ws_a.pk, ws_a.slug):
        if path_scoped:
            yield f"other member, path names target {ref}", api(user=attacker), path(ref), {}
        else:
            yield (
                f"other member, header names target {ref}",
                api(user=attacker),
                path(None),
                {"HTTP_X_WORKSPACE_ID": str(ref)},
            )
    # (a') ... from inside their own workspace, with ids of the target's rows.
    if has_objects:
        if path_scoped:
            yield "other member, own workspace, target's ids", api(user=attacker), path(ws_b.pk), {}
        else:
            yield (
                "other member, own workspace, target's ids",
                api(user=attacker),
                path(None),
                {"HTTP_X_WORKSPACE_ID": str(ws_b.pk)},
            )
    # (b) the other workspace's API key, pointed at the target.
    if path_scoped:
        yield "other key, path names target", api(api_key=attacker_key), path(ws_a.pk), {}
    yield (
        "other key, header names target",
        api(api_key=attacker_key),
        path(ws_b.pk if path_scoped else None),
        {"HTTP_X_WORKSPACE_ID": str(ws_a.pk)},
    )
    yield (
        "other key as X-Api-Key, header names target",
        api(),
        path(ws_a.pk if path_scoped else None),
        {"HTTP_X_API_KEY": attacker_key, "HTTP_X_WORKSPACE_ID": ws_a.slug},
    )
    # (c) a forged X-Workspace-ID: the path (if any) names the caller's own workspace.
    for ref in (ws_a.pk, ws_a.slug):
        yield (
            f"forged header {ref}",
            api(user=attacker),
            path(ws_b.pk if path_scoped else None),
            {"HTTP_X_WORKSPACE_ID": str(ref)},
        )
    yield (
        "forged header, caller in no workspace",
        api(user=stranger),
        path(ws_a.pk if path_scoped else None),
        {"HTTP_X_WORKSPACE_ID": str(ws_a.pk)},
    )


def test_the_url_conf_walk_finds_the_workspace_endpoints():
    names = {name for _route, name, _pattern in ROUTES}
    assert {
        "workspace-detail",
        "workspace-transfer",
        "workspace-audit-log",
        "member-list",
        "member-detail",
        "invitation-list",
        "invitation-detail",
        "api-key-list",
        "api-key-detail",
    } <= names


def test_every_api_v1_route_is_workspace_scoped_or_explicitly_public():
    unscoped = []
    for route, name, pattern in walk_urlconf():
        cls = view_class_of(pattern)
        if not is_api_v1(route) or name in NON_WORKSPACE_ROUTES:
            continue
        if cls is None or not issubclass(cls, WorkspaceAccessMixin):
            unscoped.append((route, name))
    assert not unscoped, (
        "these /api/v1/ routes bypass tenants.access.WorkspaceAccessMixin; build them on it "
        f"(or, if they truly carry no workspace data, list them in NON_WORKSPACE_ROUTES): {unscoped}"
    )


@pytest.mark.parametrize("entry", ROUTES, ids=_route_id)
def test_workspace_endpoint_hides_the_other_workspace(
    entry, target, ws_b, attacker, attacker_key, api, make_user
):
    _route, name, pattern = entry
    before = _snapshot(target["workspace"])
    attacks = list(_attacks(entry, target, ws_b, attacker, attacker_key, api, make_user))
    tried = 0
    for method in http_methods_of(pattern):
        for description, client, path, headers in attacks:
            body = _body(name, method, target, attacker)
            if method in ("get", "head", "options"):
                response = getattr(client.client, method)(path, **headers)
            else:
                response = client.request(method, path, body, headers=headers)
            context = (method.upper(), path, description)
            if method == "options" and "own workspace" in description:
                # OPTIONS describes the endpoint and never looks a row up: the same answer for any id.
                _assert_no_leak(response, target, context=context)
            else:
                _assert_hidden(response, target, context=context)
            tried += 1
    assert tried >= len(attacks)
    assert _snapshot(target["workspace"]) == before


def test_api_key_of_another_workspace_cannot_use_the_targets_objects_from_its_own(
    target, ws_b, attacker_key, api
):
    """The key's own workspace, a row id of the target: the row does not exist for it."""
    ws_a = target["workspace"]
    client = api(api_key=attacker_key)
    for path in (
        f"/api/v1/api-keys/{target['api_key'].pk}",
        f"/api/v1/workspaces/{ws_b.pk}/members/{Membership.objects.get(workspace=ws_a, role=Role.OWNER).pk}",
    ):
        response = client.get(path)
        # API keys may not manage keys or members at all (403) — and never learn the row exists.
        assert response.status_code in (403, 404), response.content
        assert not any(s in response.content.decode() for s in target["secrets"])


def test_header_is_ignored_by_the_list_of_my_workspaces(target, attacker, api):
    response = api(user=attacker).get(
        "/api/v1/workspaces", headers={"HTTP_X_WORKSPACE_ID": str(target["workspace"].pk)}
    )
    assert response.status_code == 200
    assert [w["slug"] for w in response.json()["results"]] == ["beta-pharma"]


def test_unknown_workspace_is_404_like_a_foreign_one(api, attacker):
    for ref in (str(uuid.uuid4()), "no-such-workspace"):
        response = api(user=attacker).get("/api/v1/api-keys", headers={"HTTP_X_WORKSPACE_ID": ref})
        assert response.status_code == 404
        response = api(user=attacker).get(f"/api/v1/workspaces/{ref}/members")
        assert response.status_code == 404
