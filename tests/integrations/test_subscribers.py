"""The server API for subscribers: filters (whitelisted), reading without addresses, PATCH, delete,
server-side registration, roles and API-key scopes, and the CSV import (API and command)."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tenants.utils import schema_context

from integrations.models import Subscriber
from tenants.models import Role
from tests.integrations.integration_support import (
    browser_subscription,
    fcm_token,
    make_app,
    make_subscriber,
)
from tests.tenants.support import assert_error, base_schema_once, fast_tenancy  # noqa: F401

pytestmark = pytest.mark.django_db

ADDRESS_FIELDS = ("endpoint", "endpoint_hash", "p256dh", "auth", "fcm_token")


@pytest.fixture
def owner(api, ws_a, alice):
    return api(user=alice, workspace=ws_a)


@pytest.fixture
def apps(ws_a):
    return {"web": make_app(ws_a, "web_push", name="Site"), "fcm": make_app(ws_a, "fcm", name="Android")}


@pytest.fixture
def people(ws_a, apps):
    now = timezone.now()
    return {
        "ada": make_subscriber(ws_a, apps["web"], external_user_id="ada", tags=["vip", "de"], locale="de-DE"),
        "bob": make_subscriber(ws_a, apps["web"], external_user_id="bob", tags=["de"], status="unsubscribed"),
        "cy": make_subscriber(
            ws_a,
            apps["fcm"],
            external_user_id="cy-1",
            tags=["vip"],
            platform="ios",
            last_seen_at=now - timedelta(days=40),
        ),
        "dee": make_subscriber(
            ws_a, apps["fcm"], external_user_id="dee", platform="android", status="invalid"
        ),
    }


def _ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def _of(people, *names) -> set[str]:
    return {str(people[n].pk) for n in names}


def test_list_filters(owner, people, apps):
    assert _ids(owner.get("/api/v1/subscribers")) == _of(people, "ada", "bob", "cy", "dee")
    assert _ids(owner.get("/api/v1/subscribers", {"tag": "vip"})) == _of(people, "ada", "cy")
    assert _ids(owner.get("/api/v1/subscribers?tag=vip&tag=de")) == _of(people, "ada", "bob", "cy")
    assert _ids(owner.get("/api/v1/subscribers", {"status": "unsubscribed"})) == _of(people, "bob")
    assert _ids(owner.get("/api/v1/subscribers", {"status": "invalid"})) == _of(people, "dee")
    assert _ids(owner.get("/api/v1/subscribers", {"platform": "ios"})) == _of(people, "cy")
    assert _ids(owner.get("/api/v1/subscribers", {"platform": "web"})) == _of(people, "ada", "bob")
    assert _ids(owner.get("/api/v1/subscribers", {"app": str(apps["fcm"].pk)})) == _of(people, "cy", "dee")
    assert _ids(owner.get("/api/v1/subscribers", {"kind": "web_push"})) == _of(people, "ada", "bob")
    assert _ids(owner.get("/api/v1/subscribers", {"external_user_id": "cy-1"})) == _of(people, "cy")
    assert _ids(owner.get("/api/v1/subscribers", {"search": "CY"})) == _of(people, "cy")
    assert _ids(owner.get("/api/v1/subscribers", {"search": str(people["dee"].pk)})) == _of(people, "dee")
    assert _ids(owner.get("/api/v1/subscribers", {"locale": "de-DE"})) == _of(people, "ada")
    assert _ids(
        owner.get("/api/v1/subscribers", {"tag": "vip", "status": "active", "platform": "web"})
    ) == _of(people, "ada")
    # Parameters that are not filters never reach the ORM.
    assert _ids(owner.get("/api/v1/subscribers", {"endpoint__startswith": "https", "p256dh": "x"})) == _of(
        people, "ada", "bob", "cy", "dee"
    )
    ordered = owner.get("/api/v1/subscribers", {"ordering": "external_user_id"}).json()["results"]
    assert [row["external_user_id"] for row in ordered] == ["ada", "bob", "cy-1", "dee"]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "deleted"},
        {"platform": "palm"},
        {"app": "not-a-uuid"},
        {"ordering": "endpoint"},
        {"tag": "x" * 65},
        {"search": "a\x00b"},
    ],
)
def test_bad_filter_values_are_400(owner, people, params):
    assert_error(owner.get("/api/v1/subscribers", params), 400, "validation_error")


def test_every_repeated_tag_parameter_is_checked(owner, people):
    assert_error(owner.get("/api/v1/subscribers?tag=vip&tag=" + "x" * 65), 400, "validation_error")
    assert_error(owner.get("/api/v1/subscribers?tag=vip&tag=a%00b"), 400, "validation_error")


def test_subscribers_are_read_without_their_push_addresses(owner, people, ws_a):
    with schema_context(ws_a.schema_name):
        rows = list(Subscriber.objects.all())
    secrets = [
        value for row in rows for value in (row.endpoint, row.p256dh, row.auth, row.fcm_token) if value
    ]
    for response in (
        owner.get("/api/v1/subscribers"),
        owner.get(f"/api/v1/subscribers/{people['ada'].pk}"),
        owner.get(f"/api/v1/subscribers/{people['cy'].pk}"),
    ):
        assert response.status_code == 200
        text = response.content.decode()
        assert not any(secret in text for secret in secrets)
        assert not any(f'"{name}"' in text for name in ADDRESS_FIELDS)
    detail = owner.get(f"/api/v1/subscribers/{people['ada'].pk}").json()
    assert detail["push_service"] == "fcm.googleapis.com" and detail["tags"] == ["vip", "de"]
    assert owner.get(f"/api/v1/subscribers/{people['cy'].pk}").json()["push_service"] == "fcm"


def test_patch_tags_and_attributes(owner, people):
    path = f"/api/v1/subscribers/{people['ada'].pk}"
    r = owner.patch(
        path, {"attributes": {"plan": "pro", "age": 31}, "add_tags": ["beta"], "remove_tags": ["de"]}
    )
    assert r.status_code == 200, r.content
    assert r.json()["tags"] == ["vip", "beta"] and r.json()["attributes"] == {"plan": "pro", "age": 31}
    r = owner.patch(path, {"attributes": {"age": None, "city": "Berlin"}, "tags": ["one", "two", "one"]})
    assert r.json()["attributes"] == {"plan": "pro", "city": "Berlin"} and r.json()["tags"] == ["one", "two"]
    r = owner.patch(path, {"external_user_id": "ada-2", "timezone": "Europe/Paris", "locale": "fr"})
    assert (r.json()["external_user_id"], r.json()["timezone"], r.json()["locale"]) == (
        "ada-2",
        "Europe/Paris",
        "fr",
    )
    for bad in (
        {"attributes": {"x": {"deep": 1}}},
        {"tags": "vip"},
        {"status": "active"},
        {"endpoint": "https://evil.example"},
        {"timezone": "Nowhere/Else"},
    ):
        assert_error(owner.patch(path, bad), 400, "validation_error")


def test_delete_subscriber(owner, people):
    path = f"/api/v1/subscribers/{people['bob'].pk}"
    assert owner.delete(path).status_code == 204
    assert_error(owner.get(path), 404, "not_found")
    assert_error(owner.delete(path), 404, "not_found")


def test_server_side_registration_is_an_upsert(owner, apps, ws_a):
    token = fcm_token()
    body = {"app_id": str(apps["fcm"].pk), "fcm_token": token, "platform": "ios", "external_user_id": "u1"}
    first = owner.post("/api/v1/subscribers", body)
    assert first.status_code == 201, first.content
    again = owner.post("/api/v1/subscribers", {**body, "tags": ["x"]})
    assert (
        again.status_code == 200
        and again.json()["id"] == first.json()["id"]
        and again.json()["tags"] == ["x"]
    )
    assert token not in first.content.decode() + again.content.decode()
    web = owner.post(
        "/api/v1/subscribers", {"app_id": str(apps["web"].pk), "subscription": browser_subscription()}
    )
    assert web.status_code == 201
    assert "app_id" in assert_error(owner.post("/api/v1/subscribers", {"fcm_token": token}), 400)["details"]
    assert (
        "app_id"
        in assert_error(
            owner.post(
                "/api/v1/subscribers", {"app_id": "0b3a4f1e-2a9c-4a8e-9a55-1f5f0a3c9d77", "fcm_token": token}
            ),
            400,
        )["details"]
    )


def test_roles_and_api_key_scopes(api, ws_a, people, apps, member_with_role, api_key_for):
    path = f"/api/v1/subscribers/{people['ada'].pk}"
    viewer = api(user=member_with_role(Role.VIEWER), workspace=ws_a)
    assert viewer.get("/api/v1/subscribers").status_code == 200
    assert_error(viewer.patch(path, {"tags": ["x"]}), 403, "permission_denied")
    member = api(user=member_with_role(Role.MEMBER), workspace=ws_a)
    assert member.patch(path, {"tags": ["x"]}).status_code == 200

    reader = api(api_key=api_key_for(ws_a, scopes=["read"], name="reader"))
    assert reader.get("/api/v1/subscribers").json()["count"] == 4
    assert reader.get(path).status_code == 200
    assert_error(reader.patch(path, {"tags": ["y"]}), 403, "insufficient_scope")
    assert_error(
        reader.post("/api/v1/subscribers", {"app_id": str(apps["fcm"].pk), "fcm_token": fcm_token()}),
        403,
        "insufficient_scope",
    )
    writer = api(api_key=api_key_for(ws_a, scopes=["subscribers:write"], name="writer"))
    assert writer.patch(path, {"tags": ["y"]}).json()["tags"] == ["y"]
    assert (
        writer.post(
            "/api/v1/subscribers", {"app_id": str(apps["fcm"].pk), "fcm_token": fcm_token()}
        ).status_code
        == 201
    )
    assert_error(writer.get("/api/v1/subscribers"), 403, "insufficient_scope")
    assert writer.delete(path).status_code == 204


# -- CSV import --------------------------------------------------------------------------------------------
def _csv(rows: list[list[str]]) -> io.BytesIO:
    out = io.StringIO()
    import csv

    csv.writer(out).writerows(rows)
    data = io.BytesIO(out.getvalue().encode())
    data.name = "subscribers.csv"
    return data


def _import(client, rows, **fields):
    return client.post("/api/v1/subscribers/import", {"file": _csv(rows), **fields}, format="multipart")


def test_csv_import_reports_bad_rows_and_imports_the_rest(owner, ws_a, apps):
    good_web = browser_subscription()
    token = fcm_token()
    rows = [
        [
            "app_id",
            "fcm_token",
            "endpoint",
            "p256dh",
            "auth",
            "external_user_id",
            "tags",
            "attr.plan",
            "attributes",
            "locale",
            "timezone",
        ],
        [
            str(apps["fcm"].pk),
            token,
            "",
            "",
            "",
            "u1",
            "vip|de",
            "pro",
            '{"age": 31}',
            "de-de",
            "Europe/Berlin",
        ],
        [
            str(apps["web"].pk),
            "",
            good_web["endpoint"],
            good_web["keys"]["p256dh"],
            good_web["keys"]["auth"],
            "u2",
            "",
            "",
            "",
            "",
            "",
        ],
        [str(apps["fcm"].pk), "bad token!", "", "", "", "u3", "", "", "", "", ""],  # row 4
        [
            str(apps["web"].pk),
            "",
            "https://evil.example/push",
            good_web["keys"]["p256dh"],
            good_web["keys"]["auth"],
            "",
            "",
            "",
            "",
            "",
            "",
        ],  # row 5
        [
            str(apps["web"].pk),
            "",
            browser_subscription()["endpoint"],
            "BAAAA",
            "AAAA",
            "",
            "",
            "",
            "",
            "",
            "",
        ],  # 6
        [str(apps["fcm"].pk), fcm_token(), "", "", "", "", "", "", "", "", "Mars/Base"],  # row 7
        ["0b3a4f1e-2a9c-4a8e-9a55-1f5f0a3c9d77", fcm_token(), "", "", "", "", "", "", "", "", ""],  # row 8
        [str(apps["fcm"].pk), fcm_token(), "", "", "", "", "", "", "not json", "", ""],  # row 9
        [str(apps["fcm"].pk), fcm_token(), "", "", "", "", "", "", "", "", "", "extra cell"],  # row 10
        [str(apps["web"].pk), fcm_token(), "", "", "", "", "", "", "", "", ""],  # row 11: token for a web app
    ]
    r = _import(owner, rows)
    assert r.status_code == 200, r.content
    report = r.json()
    assert report["imported"] == 2 and report["updated"] == 0 and report["errors_truncated"] is False
    errors = {e["row"]: e["errors"] for e in report["errors"]}
    assert set(errors) == {4, 5, 6, 7, 8, 9, 10, 11}, errors
    assert "fcm_token" in errors[4]
    assert "endpoint" in errors[5]["subscription"]
    assert set(errors[6]["subscription"]["keys"]) == {"p256dh", "auth"}
    assert "timezone" in errors[7] and "app_id" in errors[8] and "attributes" in errors[9]
    assert "non_field_errors" in errors[10] and "fcm_token" in errors[11]
    with schema_context(ws_a.schema_name):
        imported = Subscriber.objects.get(fcm_token=token)
    assert imported.tags == ["vip", "de"] and imported.attributes == {"plan": "pro", "age": 31}
    assert imported.locale == "de-DE" and imported.external_user_id == "u1"

    # The same file again updates instead of duplicating.
    again = _import(owner, rows[:3]).json()
    assert (again["imported"], again["updated"], again["errors"]) == (0, 2, [])


def test_csv_import_uses_the_app_id_parameter_and_checks_the_header(owner, apps, ws_a):
    rows = [["fcm_token", "external_user_id"], [fcm_token(), "a"], [fcm_token(), "b"]]
    assert_error(_import(owner, rows), 400, "import_invalid_header")  # two apps: which one?
    assert _import(owner, rows, app_id=str(apps["fcm"].pk)).json()["imported"] == 2
    error = assert_error(
        _import(owner, [["fcm_token", "password"], ["x", "y"]], app_id=str(apps["fcm"].pk)),
        400,
        "import_invalid_header",
    )
    assert "password" in error["message"]
    assert_error(
        _import(owner, [["external_user_id"], ["a"]], app_id=str(apps["fcm"].pk)),
        400,
        "import_invalid_header",
    )
    assert_error(_import(owner, [], app_id=str(apps["fcm"].pk)), 400, "validation_error")  # an empty file
    assert (
        "app_id"
        in assert_error(_import(owner, rows, app_id="0b3a4f1e-2a9c-4a8e-9a55-1f5f0a3c9d77"), 400)["details"]
    )


def test_csv_import_reports_undecodable_rows(owner, apps):
    good, bad = fcm_token(), fcm_token()
    data = io.BytesIO(f"fcm_token,external_user_id\n{good},ok\n{bad},caf\xe9\n".encode("latin-1"))
    data.name = "latin1.csv"
    r = owner.post(
        "/api/v1/subscribers/import", {"file": data, "app_id": str(apps["fcm"].pk)}, format="multipart"
    )
    assert r.json()["imported"] == 1 and r.json()["errors"][0]["row"] == 3


def test_csv_import_needs_subscribers_write(api, ws_a, apps, api_key_for, member_with_role):
    rows = [["fcm_token"], [fcm_token()]]
    assert_error(
        _import(api(api_key=api_key_for(ws_a, scopes=["read"])), rows, app_id=str(apps["fcm"].pk)),
        403,
        "insufficient_scope",
    )
    assert_error(
        _import(api(user=member_with_role(Role.VIEWER), workspace=ws_a), rows, app_id=str(apps["fcm"].pk)),
        403,
    )
    writer = api(api_key=api_key_for(ws_a, scopes=["subscribers:write"], name="w"))
    assert _import(writer, rows, app_id=str(apps["fcm"].pk)).json()["imported"] == 1


def test_import_subscribers_command(ws_a, apps, tmp_path):
    path = tmp_path / "big.csv"
    tokens = [fcm_token() for _ in range(30)]
    lines = ["fcm_token,external_user_id,tags"] + [f"{t},user-{i},imported" for i, t in enumerate(tokens)]
    lines.append("nope,broken,")
    path.write_text("\n".join(lines) + "\n")
    report_path = tmp_path / "report.json"
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_subscribers",
        str(path),
        "--workspace",
        ws_a.slug,
        "--app",
        str(apps["fcm"].pk),
        "--report",
        str(report_path),
        stdout=out,
        stderr=err,
    )
    assert "imported=30 updated=0 errors=1" in out.getvalue()
    assert "row 32" in out.getvalue()
    assert "31/31" in err.getvalue()  # the progress bar reached the end
    assert json.loads(report_path.read_text())["errors"][0]["row"] == 32
    with schema_context(ws_a.schema_name):
        assert Subscriber.objects.filter(tags__contains=["imported"]).count() == 30
    with pytest.raises(CommandError, match="No workspace"):
        call_command("import_subscribers", str(path), "--workspace", "nope", stdout=out, stderr=err)
    with pytest.raises(CommandError, match="app_id"):
        call_command(
            "import_subscribers", str(path), "--workspace", ws_a.slug, "--no-progress", stdout=out, stderr=err
        )
