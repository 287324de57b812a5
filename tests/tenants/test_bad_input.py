"""Bad input, endpoint by endpoint: wrong types, missing and unknown fields, over-long strings, invalid
emails, UUIDs and time zones, bad scopes and roles, bodies that are not JSON objects. Each gets its
4xx status and error code in the one error shape — never a 500.

Every case runs as the workspace owner (so a refusal is about the input, not the role) inside its
own rolled-back transaction on top of one committed workspace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from tenants import services
from tenants.models import Membership, Role, User, Workspace
from tests.conftest import PASSWORD
from tests.tenants.support import (  # noqa: F401 - autouse fixtures
    assert_error,
    base_schema_once,
    fast_tenancy,
)

pytestmark = pytest.mark.django_db

NOT_OBJECTS = [("list", []), ("string", "x"), ("number", 123), ("null", None), ("true", True)]
LONG = "a" * 300


@dataclass
class Case:
    method: str
    path: str
    body: object = None
    status: int = 400
    code: str = "validation_error"
    fields: tuple = ()
    raw: bytes | None = None
    content_type: str = "application/json"
    as_owner: bool = True
    headers: dict = field(default_factory=dict)


def _cases():
    ws, member, inv, key = "{ws}", "{member}", "{inv}", "{key}"
    wsp = f"/api/v1/workspaces/{ws}"
    good_register = {"email": "new@bad.test", "password": "Fresh-Pass-771"}
    cases = {
        # -- auth/register
        "register: empty": Case(
            "post", "/api/v1/auth/register", {}, fields=("email", "password"), as_owner=False
        ),
        "register: invalid email": Case(
            "post",
            "/api/v1/auth/register",
            {**good_register, "email": "not-an-email"},
            fields=("email",),
            as_owner=False,
        ),
        "register: email too long": Case(
            "post",
            "/api/v1/auth/register",
            {**good_register, "email": f"{LONG}@example.com"},
            fields=("email",),
            as_owner=False,
        ),
        "register: email is a number": Case(
            "post",
            "/api/v1/auth/register",
            {**good_register, "email": 123},
            fields=("email",),
            as_owner=False,
        ),
        "register: password is a list": Case(
            "post",
            "/api/v1/auth/register",
            {**good_register, "password": ["a", "b"]},
            fields=("password",),
            as_owner=False,
        ),
        "register: password too long": Case(
            "post",
            "/api/v1/auth/register",
            {**good_register, "password": "P1-" * 50},
            fields=("password",),
            as_owner=False,
        ),
        "register: full_name too long": Case(
            "post",
            "/api/v1/auth/register",
            {**good_register, "full_name": LONG},
            fields=("full_name",),
            as_owner=False,
        ),
        "register: unknown field": Case(
            "post",
            "/api/v1/auth/register",
            {**good_register, "is_staff": True},
            fields=("is_staff",),
            as_owner=False,
        ),
        "register: NUL in email": Case(
            "post",
            "/api/v1/auth/register",
            {**good_register, "email": "a\x00b@bad.test"},
            fields=("email",),
            as_owner=False,
        ),
        "register: NUL in name": Case(
            "post",
            "/api/v1/auth/register",
            {**good_register, "full_name": "a\x00b"},
            fields=("full_name",),
            as_owner=False,
        ),
        # -- auth/login
        "login: empty": Case("post", "/api/v1/auth/login", {}, fields=("email", "password"), as_owner=False),
        "login: missing password": Case(
            "post", "/api/v1/auth/login", {"email": "owner@bad.test"}, fields=("password",), as_owner=False
        ),
        "login: email is an object": Case(
            "post",
            "/api/v1/auth/login",
            {"email": {"$ne": ""}, "password": "x"},
            fields=("email",),
            as_owner=False,
        ),
        "login: unknown field": Case(
            "post",
            "/api/v1/auth/login",
            {"email": "owner@bad.test", "password": PASSWORD, "remember": True},
            fields=("remember",),
            as_owner=False,
        ),
        "login: NUL in password": Case(
            "post",
            "/api/v1/auth/login",
            {"email": "owner@bad.test", "password": "a\x00"},
            fields=("password",),
            as_owner=False,
        ),
        # -- auth/refresh, logout
        "refresh: empty": Case("post", "/api/v1/auth/refresh", {}, fields=("refresh",), as_owner=False),
        "refresh: list": Case(
            "post", "/api/v1/auth/refresh", {"refresh": ["a"]}, fields=("refresh",), as_owner=False
        ),
        "refresh: null": Case(
            "post", "/api/v1/auth/refresh", {"refresh": None}, fields=("refresh",), as_owner=False
        ),
        "refresh: too long": Case(
            "post", "/api/v1/auth/refresh", {"refresh": "x" * 3000}, fields=("refresh",), as_owner=False
        ),
        "refresh: a number is just a bad token": Case(
            "post", "/api/v1/auth/refresh", {"refresh": 42}, status=401, code="token_invalid", as_owner=False
        ),
        "logout: empty": Case("post", "/api/v1/auth/logout", {}, fields=("refresh",), as_owner=False),
        "logout: garbage token": Case(
            "post",
            "/api/v1/auth/logout",
            {"refresh": "garbage"},
            status=401,
            code="token_invalid",
            as_owner=False,
        ),
        # -- invitations/accept
        "accept: empty": Case("post", "/api/v1/invitations/accept", {}, fields=("token",), as_owner=False),
        "accept: token too long": Case(
            "post", "/api/v1/invitations/accept", {"token": LONG}, fields=("token",), as_owner=False
        ),
        "accept: token is a list": Case(
            "post", "/api/v1/invitations/accept", {"token": ["x"]}, fields=("token",), as_owner=False
        ),
        "accept: unknown field": Case(
            "post",
            "/api/v1/invitations/accept",
            {"token": "x", "role": "owner"},
            fields=("role",),
            as_owner=False,
        ),
        "accept: NUL in token": Case(
            "post", "/api/v1/invitations/accept", {"token": "ab\x00c"}, fields=("token",), as_owner=False
        ),
        # -- workspaces
        "create workspace: empty": Case("post", "/api/v1/workspaces", {}, fields=("name",)),
        "create workspace: blank name": Case("post", "/api/v1/workspaces", {"name": "   "}, fields=("name",)),
        "create workspace: name too long": Case(
            "post", "/api/v1/workspaces", {"name": LONG}, fields=("name",)
        ),
        "create workspace: name is a list": Case(
            "post", "/api/v1/workspaces", {"name": ["a"]}, fields=("name",)
        ),
        "create workspace: name is a bool": Case(
            "post", "/api/v1/workspaces", {"name": True}, fields=("name",)
        ),
        "create workspace: bad timezone": Case(
            "post", "/api/v1/workspaces", {"name": "Z", "timezone": "Nowhere/City"}, fields=("timezone",)
        ),
        "create workspace: timezone is a number": Case(
            "post", "/api/v1/workspaces", {"name": "Z", "timezone": 5}, fields=("timezone",)
        ),
        "create workspace: bad slug": Case(
            "post", "/api/v1/workspaces", {"name": "Z", "slug": "Not A Slug"}, fields=("slug",)
        ),
        "create workspace: reserved slug": Case(
            "post", "/api/v1/workspaces", {"name": "Z", "slug": "public"}, fields=("slug",)
        ),
        "create workspace: slug too long": Case(
            "post", "/api/v1/workspaces", {"name": "Z", "slug": "a" * 64}, fields=("slug",)
        ),
        "create workspace: unknown field": Case(
            "post", "/api/v1/workspaces", {"name": "Z", "plan_type": "pro"}, fields=("plan_type",)
        ),
        "create workspace: NUL in name": Case(
            "post", "/api/v1/workspaces", {"name": "a\x00b"}, fields=("name",)
        ),
        "update workspace: blank name": Case("patch", wsp, {"name": ""}, fields=("name",)),
        "update workspace: bad plan": Case("patch", wsp, {"plan_type": "gold"}, fields=("plan_type",)),
        "update workspace: plan is a list": Case("patch", wsp, {"plan_type": ["pro"]}, fields=("plan_type",)),
        "update workspace: bad timezone": Case("patch", wsp, {"timezone": "GMT+25"}, fields=("timezone",)),
        "update workspace: timezone too long": Case(
            "patch", wsp, {"timezone": "A/" + LONG}, fields=("timezone",)
        ),
        "update workspace: bad slug": Case("patch", wsp, {"slug": "-x-"}, fields=("slug",)),
        "update workspace: uuid slug": Case(
            "patch", wsp, {"slug": "6f1c2a8e-0d5e-4e0a-9d4b-3f2e1c0b9a87"}, fields=("slug",)
        ),
        "update workspace: unknown field": Case("patch", wsp, {"owner": "x"}, fields=("owner",)),
        "delete workspace: no confirm": Case("delete", wsp, {}, fields=("confirm",)),
        "delete workspace: wrong confirm": Case("delete", wsp, {"confirm": "nope"}, fields=("confirm",)),
        "delete workspace: confirm is a list": Case(
            "delete", wsp, {"confirm": ["bad-input"]}, fields=("confirm",)
        ),
        "workspace: not a uuid nor a slug": Case(
            "get", "/api/v1/workspaces/!!bad!!", status=404, code="not_found"
        ),
        "workspace: unknown uuid": Case(
            "get", "/api/v1/workspaces/00000000-0000-0000-0000-000000000000", status=404, code="not_found"
        ),
        "workspace: ref too long": Case(
            "get", f"/api/v1/workspaces/{'a' * 500}", status=404, code="not_found"
        ),
        "transfer: empty": Case("post", f"{wsp}/transfer-ownership", {}, fields=("user_id",)),
        "transfer: not a uuid": Case(
            "post", f"{wsp}/transfer-ownership", {"user_id": "bob"}, fields=("user_id",)
        ),
        "transfer: a number": Case("post", f"{wsp}/transfer-ownership", {"user_id": 7}, fields=("user_id",)),
        "transfer: not a member": Case(
            "post",
            f"{wsp}/transfer-ownership",
            {"user_id": "00000000-0000-0000-0000-000000000000"},
            fields=("user_id",),
        ),
        # -- members
        "invite: empty": Case("post", f"{wsp}/members", {}, fields=("email",)),
        "invite: invalid email": Case(
            "post", f"{wsp}/members", {"email": "bob at example"}, fields=("email",)
        ),
        "invite: email too long": Case(
            "post", f"{wsp}/members", {"email": f"{LONG}@x.test"}, fields=("email",)
        ),
        "invite: email is a list": Case("post", f"{wsp}/members", {"email": ["a@b.test"]}, fields=("email",)),
        "invite: unknown role": Case(
            "post", f"{wsp}/members", {"email": "a@b.test", "role": "superuser"}, fields=("role",)
        ),
        "invite: owner role": Case(
            "post", f"{wsp}/members", {"email": "a@b.test", "role": "owner"}, fields=("role",)
        ),
        "invite: unknown field": Case(
            "post", f"{wsp}/members", {"email": "a@b.test", "workspace": "x"}, fields=("workspace",)
        ),
        "change role: empty": Case("patch", f"{wsp}/members/{member}", {}, fields=("role",)),
        "change role: unknown role": Case(
            "patch", f"{wsp}/members/{member}", {"role": "god"}, fields=("role",)
        ),
        "change role: role is a number": Case(
            "patch", f"{wsp}/members/{member}", {"role": 1}, fields=("role",)
        ),
        "change role: to owner": Case(
            "patch", f"{wsp}/members/{member}", {"role": "owner"}, fields=("role",)
        ),
        "change role: unknown field": Case(
            "patch", f"{wsp}/members/{member}", {"role": "viewer", "user": "x"}, fields=("user",)
        ),
        "member: invalid uuid": Case(
            "patch", f"{wsp}/members/not-a-uuid", {"role": "viewer"}, status=404, code="not_found"
        ),
        "member: unknown uuid": Case(
            "delete", f"{wsp}/members/00000000-0000-0000-0000-000000000000", status=404, code="not_found"
        ),
        "member: get invalid uuid": Case("get", f"{wsp}/members/12", status=404, code="not_found"),
        # -- invitations
        "revoke invitation: invalid uuid": Case(
            "delete", f"{wsp}/invitations/xyz", status=404, code="not_found"
        ),
        "revoke invitation: dotted id": Case(
            "delete", f"{wsp}/invitations/1.2", status=404, code="not_found"
        ),
        "invitations: unknown status filter": Case(
            "get", f"{wsp}/invitations?status=%00weird", status=200, code=""
        ),
        # -- API keys
        "create key: empty": Case("post", "/api/v1/api-keys", {}, fields=("name", "scopes")),
        "create key: blank name": Case(
            "post", "/api/v1/api-keys", {"name": "", "scopes": ["read"]}, fields=("name",)
        ),
        "create key: name too long": Case(
            "post", "/api/v1/api-keys", {"name": LONG, "scopes": ["read"]}, fields=("name",)
        ),
        "create key: no scopes": Case(
            "post", "/api/v1/api-keys", {"name": "k", "scopes": []}, fields=("scopes",)
        ),
        "create key: unknown scope": Case(
            "post", "/api/v1/api-keys", {"name": "k", "scopes": ["admin"]}, fields=("scopes",)
        ),
        "create key: scopes is a string": Case(
            "post", "/api/v1/api-keys", {"name": "k", "scopes": "read"}, fields=("scopes",)
        ),
        "create key: scopes is an object": Case(
            "post", "/api/v1/api-keys", {"name": "k", "scopes": {"read": 1}}, fields=("scopes",)
        ),
        "create key: nested scope": Case(
            "post", "/api/v1/api-keys", {"name": "k", "scopes": [["read"]]}, fields=("scopes",)
        ),
        "create key: null scope": Case(
            "post", "/api/v1/api-keys", {"name": "k", "scopes": [None]}, fields=("scopes",)
        ),
        "create key: too many scopes": Case(
            "post",
            "/api/v1/api-keys",
            {"name": "k", "scopes": ["read", "send", "read", "send"]},
            fields=("scopes",),
        ),
        "create key: unknown field": Case(
            "post",
            "/api/v1/api-keys",
            {"name": "k", "scopes": ["read"], "prefix": "aaaa"},
            fields=("prefix",),
        ),
        "key: invalid uuid": Case("get", "/api/v1/api-keys/not-a-uuid", status=404, code="not_found"),
        "revoke key: invalid uuid": Case("delete", "/api/v1/api-keys/12345", status=404, code="not_found"),
        "revoke key: unknown uuid": Case(
            "delete", "/api/v1/api-keys/00000000-0000-0000-0000-000000000000", status=404, code="not_found"
        ),
        # -- pages and filters
        "page: not a number": Case("get", "/api/v1/api-keys?page=abc", status=404, code="not_found"),
        "page: zero": Case("get", f"{wsp}/members?page=0", status=404, code="not_found"),
        "page: past the end": Case("get", f"{wsp}/audit-log?page=99", status=404, code="not_found"),
        "page_size: junk is ignored": Case("get", f"{wsp}/audit-log?page_size=-5", status=200, code=""),
        "audit filter: NUL": Case("get", f"{wsp}/audit-log?action=%00", fields=("action",)),
        "audit filter: very long": Case("get", f"{wsp}/audit-log?action={'a' * 5000}", fields=("action",)),
        "audit filter: a prefix": Case("get", f"{wsp}/audit-log?action=member.", status=200, code=""),
        # -- NUL bytes and junk in paths and credentials never reach PostgreSQL
        "path: NUL as the workspace": Case(
            "get", "/api/v1/workspaces/%00/members", status=404, code="not_found"
        ),
        "path: NUL in a slug": Case("get", "/api/v1/workspaces/bad%00input", status=404, code="not_found"),
        "path: NUL as a member id": Case("get", f"{wsp}/members/%00", status=404, code="not_found"),
        "path: NUL as a key id": Case("delete", "/api/v1/api-keys/ab%00cd", status=404, code="not_found"),
        "credentials: NUL in X-Api-Key": Case(
            "get",
            "/api/v1/api-keys",
            status=401,
            code="authentication_failed",
            as_owner=False,
            headers={"HTTP_X_API_KEY": "pp_live_\x00"},
        ),
        "credentials: NUL in a bearer token": Case(
            "get",
            "/api/v1/auth/me",
            status=401,
            as_owner=False,
            code="authentication_failed",
            headers={"HTTP_AUTHORIZATION": "Bearer ab\x00cd"},
        ),
        # -- the workspace header itself
        "header: NUL": Case(
            "get",
            "/api/v1/api-keys",
            status=404,
            code="not_found",
            headers={"HTTP_X_WORKSPACE_ID": "bad\x00input"},
        ),
        "header: very long": Case(
            "get",
            "/api/v1/api-keys",
            status=404,
            code="not_found",
            headers={"HTTP_X_WORKSPACE_ID": "a" * 5000},
        ),
        "header: empty": Case(
            "get", "/api/v1/api-keys", status=404, code="not_found", headers={"HTTP_X_WORKSPACE_ID": ""}
        ),
        "header: uuid-ish junk": Case(
            "get",
            "/api/v1/api-keys",
            status=404,
            code="not_found",
            headers={"HTTP_X_WORKSPACE_ID": "{12345678-1234-5678-1234-56781234567}"},
        ),
        # -- bodies that are not JSON objects, or not JSON
        "malformed json": Case("post", "/api/v1/workspaces", raw=b'{"name": "x",', code="malformed_request"),
        "json that is not utf-8": Case(
            "post", "/api/v1/workspaces", raw=b'{"name": "\xff\xfe"}', code="malformed_request"
        ),
        "deeply nested json": Case(
            "post", "/api/v1/workspaces", raw=b"[" * 50_000 + b"]" * 50_000, code="malformed_request"
        ),
        "NaN in json": Case(
            "post", "/api/v1/api-keys", raw=b'{"name": NaN, "scopes": ["read"]}', code="malformed_request"
        ),
        "plain text body": Case(
            "post",
            "/api/v1/workspaces",
            raw=b"name=x",
            content_type="text/plain",
            status=415,
            code="unsupported_media_type",
        ),
        "xml body": Case(
            "post",
            "/api/v1/auth/login",
            raw=b"<login/>",
            content_type="application/xml",
            status=415,
            code="unsupported_media_type",
            as_owner=False,
        ),
    }
    for label, body in NOT_OBJECTS:
        for path, as_owner in (
            ("/api/v1/auth/register", False),
            ("/api/v1/auth/login", False),
            ("/api/v1/invitations/accept", False),
            ("/api/v1/workspaces", True),
            (f"{wsp}/members", True),
            ("/api/v1/api-keys", True),
            (f"{wsp}/transfer-ownership", True),
        ):
            cases[f"{path} with a {label} body"] = Case(
                "post", path, raw=json.dumps(body).encode(), as_owner=as_owner
            )
        for method, path in (("patch", wsp), ("patch", f"{wsp}/members/{member}"), ("delete", wsp)):
            cases[f"{method} {path} with a {label} body"] = Case(method, path, raw=json.dumps(body).encode())
    _ = (inv, key)
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        owner = User.objects.create_user("owner@bad.test", PASSWORD)
        ws = services.workspace_create(owner=owner, name="Bad Input")
        bob = User.objects.create_user("bob@bad.test", PASSWORD)
        member = Membership.objects.create(workspace=ws, user=bob, role=Role.MEMBER)
        invitation = services.invitation_create(
            workspace=ws, email="pending@bad.test", role=Role.MEMBER, actor=owner
        )
        key, _full = services.api_key_create(workspace=ws, name="server", scopes=["read"], actor=owner)
        yield {"owner": owner, "ws": ws, "member": member, "inv": invitation, "key": key}
        services.workspace_delete(workspace=Workspace.objects.get(pk=ws.pk), actor=owner, confirm=ws.slug)
        User.objects.filter(email__endswith="@bad.test").delete()


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, world, db, api):
    case = CASES[name]
    ids = {"ws": world["ws"].pk, "member": world["member"].pk, "inv": world["inv"].pk, "key": world["key"].pk}
    path = case.path.format(**ids)
    client = api(user=world["owner"], workspace=world["ws"]) if case.as_owner else api()
    method = getattr(client.client, case.method)
    headers = dict(case.headers)
    if case.as_owner and "HTTP_X_WORKSPACE_ID" not in headers:
        headers["HTTP_X_WORKSPACE_ID"] = str(world["ws"].pk)
    if case.raw is not None:
        response = method(path, data=case.raw, content_type=case.content_type, **headers)
    elif case.method == "get":
        response = method(path, **headers)
    else:
        response = method(path, data=case.body, format="json", **headers)

    assert response.status_code < 500, (name, response.status_code, response.content[:300])
    if case.status == 200:
        assert response.status_code == 200, (name, response.content[:300])
        return
    error = assert_error(response, case.status, case.code)
    for field_name in case.fields:
        assert field_name in error["details"], (name, error)
    body = response.content.decode()
    assert "Traceback" not in body and "<html" not in body.lower()


def test_nothing_in_the_table_changed_the_world(world, db):
    ws = Workspace.objects.get(pk=world["ws"].pk)
    assert (ws.name, ws.slug, ws.timezone, ws.plan_type) == ("Bad Input", "bad-input", "UTC", "free")
    assert Membership.objects.get(pk=world["member"].pk).role == Role.MEMBER
