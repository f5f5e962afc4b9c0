"""Single contacts: lookups by uuid, phone and bsuid; POST and PATCH; routing errors."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

from tests.sandbox.client import ApiClient

if TYPE_CHECKING:
    from airflow_provider_callbell.sandbox import CallbellSandbox
    from tests.sandbox.conftest import MakeSandbox


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> CallbellSandbox:
    return make_sandbox(contacts=60, seed=5, page_size=10)


def spaced(contacts: list[dict[str, Any]]) -> dict[str, Any]:
    """A contact whose phone number is written with spaces."""
    return next(c for c in contacts if re.fullmatch(r"\+\d+ \d{3} \d{3} \d{3}", c["phoneNumber"]))


# Lookups


def test_get_by_uuid(client: ApiClient, shared_sandbox: CallbellSandbox) -> None:
    contact = shared_sandbox.contacts()[17]

    response = client.get(f"/contacts/{contact['uuid']}")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == {"contact": contact}


def test_get_by_uuid_with_field_types(client: ApiClient, shared_sandbox: CallbellSandbox) -> None:
    contact = next(c for c in shared_sandbox.contacts() if "Plan" in c["customFields"])

    typed = client.get(f"/contacts/{contact['uuid']}", include_field_types="true").json()["contact"]

    assert typed["customFieldsMetadata"]["Plan"] == {
        "value": contact["customFields"]["Plan"],
        "type": "dropdown",
        "options": ["Free", "Pro", "Enterprise"],
    }


@pytest.mark.parametrize("path", ["/contacts/" + "0" * 32, "/contacts/phone/%2B0000", "/contacts/bsuid/XX.1"])
def test_unknown_contact(client: ApiClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert response.json() == {"error": "Contact not found"}


def test_get_by_phone_ignores_formatting(client: ApiClient, shared_sandbox: CallbellSandbox) -> None:
    contact = spaced(shared_sandbox.contacts())
    compact = contact["phoneNumber"].replace(" ", "")

    for number in (contact["phoneNumber"], compact, compact.lstrip("+")):
        response = client.get("/contacts/phone/" + quote(number, safe=""))
        assert response.json() == {"contact": contact}


def test_get_by_phone_within_a_channel(client: ApiClient, shared_sandbox: CallbellSandbox) -> None:
    contact = spaced(shared_sandbox.contacts())
    path = "/contacts/phone/" + quote(contact["phoneNumber"], safe="")
    other = next(
        c["channel"]["uuid"] for c in shared_sandbox.contacts() if c["channel"] != contact["channel"]
    )

    assert client.get(path, channel_uuid=contact["channel"]["uuid"]).status_code == 200
    assert client.get(path, channel_uuid=other).status_code == 404


def test_get_by_bsuid(client: ApiClient, shared_sandbox: CallbellSandbox) -> None:
    contact = next(c for c in shared_sandbox.contacts() if "bsuid" in c)

    assert client.get(f"/contacts/bsuid/{contact['bsuid']}").json() == {"contact": contact}


# POST /contacts


def test_create_a_contact(sandbox: CallbellSandbox) -> None:
    client = ApiClient(sandbox)

    response = client.post(
        "/contacts", {"identifier": "+39 333 000 1111", "source": "whatsapp", "name": "Zoë"}
    )

    assert response.status_code == 200
    contact = response.json()["contact"]
    assert re.fullmatch(r"[0-9a-f]{32}", contact["uuid"])
    assert (contact["name"], contact["phoneNumber"], contact["source"]) == (
        "Zoë",
        "+39 333 000 1111",
        "whatsapp",
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", contact["createdAt"])
    assert contact["team"]["default"] is True
    assert contact["channel"]["main"] is True
    assert (contact["tags"], contact["customFields"], contact["assignedUser"]) == ([], {}, None)
    assert client.get("/contacts").json()["contacts"][0] == contact
    assert sandbox.get_contact(contact["uuid"]) == contact


def test_create_with_every_optional_field(sandbox: CallbellSandbox) -> None:
    team = sandbox.teams[3]
    body = {
        "identifier": "+44 7700 900123",
        "source": "telegram",
        "name": "Ольга",
        "tags": ["VIP", "lead"],
        "custom_fields": {"Address": 'Via Roma 1, "Scala B"\nMilano'},
        "assigned_user": "agent@example.com",
        "team_uuid": team["uuid"],
        "note": "Prefers voice notes",
        "bot_status": "bot_end",
    }

    contact = ApiClient(sandbox).post("/contacts", body).json()["contact"]

    assert contact["tags"] == ["VIP", "lead"]
    assert contact["customFields"] == body["custom_fields"]
    assert contact["assignedUser"] == "agent@example.com"
    assert contact["team"] == team
    assert contact["note"] == "Prefers voice notes"


@pytest.mark.parametrize("missing", ["identifier", "source", "name"])
def test_create_names_a_missing_field(sandbox: CallbellSandbox, missing: str) -> None:
    body = {"identifier": "+1 202 555 0100", "source": "whatsapp", "name": "Ann"}
    del body[missing]

    response = ApiClient(sandbox).post("/contacts", body)

    assert response.status_code == 400
    assert response.json() == {"error": f"Missing required field: {missing}"}
    assert len(sandbox.contacts()) == 60


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"name": 42}, "Invalid field: name"),
        ({"tags": "vip"}, "Invalid field: tags"),
        ({"custom_fields": {"Orders": 3}}, "Invalid field: custom_fields"),
        ({"team_uuid": "f" * 32}, "Invalid field: team_uuid"),
        ({"channel_uuid": "f" * 32}, "Invalid field: channel_uuid"),
        ({"note": "x" * 1001}, "Invalid field: note"),
        ({"name": "x" * 1001}, "Invalid field: name (longer than 1000)"),
        ({"identifier": "1" * 1001}, "Invalid field: identifier (longer than 1000)"),
        ({"tags": [f"t{n}" for n in range(101)]}, "Invalid field: tags (at most 100 tags"),
        ({"tags": ["t" * 256]}, "Invalid field: tags (at most 100 tags of at most 255 characters)"),
        ({"custom_fields": {"f" * 256: "v"}}, "Invalid field: custom_fields (names of at most 255"),
        ({"custom_fields": {"f": "v" * 10_001}}, "Invalid field: custom_fields (names of at most 255"),
        (
            {"custom_fields": {f"f{n}": "v" for n in range(101)}},
            "Invalid field: custom_fields (a contact holds",
        ),
    ],
)
def test_create_rejects_invalid_fields(sandbox: CallbellSandbox, extra: dict[str, Any], message: str) -> None:
    body = {"identifier": "+1 202 555 0100", "source": "whatsapp", "name": "Ann", **extra}

    response = ApiClient(sandbox).post("/contacts", body)

    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


def test_create_refuses_a_taken_phone_number(sandbox: CallbellSandbox) -> None:
    taken = sandbox.contacts()[0]["phoneNumber"].replace(" ", "")

    response = ApiClient(sandbox).post("/contacts", {"identifier": taken, "source": "sms", "name": "Twin"})

    assert response.status_code == 409
    assert response.json() == {"error": "Contact already exists"}


@pytest.mark.parametrize(("body", "message"), [(b"{not json", "Malformed JSON body"), (b"[]", "JSON object")])
def test_bodies_must_be_json_objects(sandbox: CallbellSandbox, body: bytes, message: str) -> None:
    client = ApiClient(sandbox)

    for method, path in (("POST", "/contacts"), ("PATCH", f"/contacts/{sandbox.contacts()[0]['uuid']}")):
        response = client.send(method, path, data=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400
        assert message in response.json()["error"]


# PATCH /contacts/{uuid}


def test_patch_merges_custom_fields_and_replaces_the_rest(sandbox: CallbellSandbox) -> None:
    client = ApiClient(sandbox)
    order = [c["uuid"] for c in sandbox.contacts()]
    target = next(c for c in sandbox.contacts() if len(c["customFields"]) >= 2 and c.get("team"))
    kept, changed = list(target["customFields"])[:2]
    team = next(t for t in sandbox.teams if t["uuid"] != target["team"]["uuid"])

    response = client.patch(
        f"/contacts/{target['uuid']}",
        {
            "tags": ["customer"],
            "custom_fields": {changed: "new value", "Loyalty": "gold"},
            "name": "Renamed",
            "assigned_user": "someone@example.com",
            "team_uuid": team["uuid"],
            "note": None,
        },
    )

    assert response.status_code == 200
    contact = response.json()["contact"]
    assert contact["customFields"] == {
        **target["customFields"],
        kept: target["customFields"][kept],
        changed: "new value",
        "Loyalty": "gold",
    }
    assert (contact["tags"], contact["name"], contact["assignedUser"]) == (
        ["customer"],
        "Renamed",
        "someone@example.com",
    )
    assert (contact["team"], contact["note"]) == (team, None)
    assert [c["uuid"] for c in sandbox.contacts()] == order
    assert sandbox.get_contact(target["uuid"]) == contact


def test_patch_unassigns(sandbox: CallbellSandbox) -> None:
    target = next(c for c in sandbox.contacts() if c["assignedUser"])

    contact = (
        ApiClient(sandbox).patch(f"/contacts/{target['uuid']}", {"unassign_user": True}).json()["contact"]
    )

    assert contact["assignedUser"] is None
    assert {**contact, "assignedUser": target["assignedUser"]} == target


def test_patch_unknown_contact(sandbox: CallbellSandbox) -> None:
    response = ApiClient(sandbox).patch("/contacts/" + "0" * 32, {"tags": []})

    assert response.status_code == 404
    assert response.json() == {"error": "Contact not found"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": ""}, "Invalid field: name"),
        ({"tags": [1]}, "Invalid field: tags"),
        ({"team_uuid": 7}, "team_uuid"),
    ],
)
def test_patch_rejects_invalid_fields(sandbox: CallbellSandbox, body: dict[str, Any], message: str) -> None:
    target = sandbox.contacts()[0]

    response = ApiClient(sandbox).patch(f"/contacts/{target['uuid']}", body)

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert sandbox.get_contact(target["uuid"]) == target


def test_patches_cannot_grow_a_contact_past_100_custom_fields(sandbox: CallbellSandbox) -> None:
    client = ApiClient(sandbox)
    target = sandbox.contacts()[0]
    room = 100 - len(target["customFields"])
    path = f"/contacts/{target['uuid']}"
    assert client.patch(path, {"custom_fields": {f"new {n}": "v" for n in range(room)}}).status_code == 200
    full = sandbox.get_contact(target["uuid"])

    more = client.patch(path, {"custom_fields": {"one more": "v"}})
    rewrite = client.patch(path, {"custom_fields": {"new 0": "changed"}})

    assert (more.status_code, more.json()) == (
        400,
        {"error": "Invalid field: custom_fields (a contact holds at most 100)"},
    )
    assert rewrite.status_code == 200
    assert sandbox.get_contact(target["uuid"]) == {
        **full,
        "customFields": {**full["customFields"], "new 0": "changed"},
    }


# DELETE


def test_delete_destroys_the_contact(sandbox: CallbellSandbox) -> None:
    client = ApiClient(sandbox)
    victim = sandbox.contacts()[12]

    response = client.send("DELETE", f"/contacts/{victim['uuid']}")

    assert response.status_code == 200
    assert response.json() == {"status": "contact was destroyed"}
    assert client.get(f"/contacts/{victim['uuid']}").status_code == 404
    assert client.get(f"/contacts/phone/{quote(victim['phoneNumber'], safe='')}").status_code == 404
    assert victim not in client.walk_cursor()
    assert len(sandbox.contacts()) == 59


def test_delete_unknown_contact(sandbox: CallbellSandbox) -> None:
    response = ApiClient(sandbox).send("DELETE", "/contacts/" + "0" * 32)

    assert response.status_code == 404
    assert response.json() == {"error": "Contact not found"}
    assert len(sandbox.contacts()) == 60


# Routing


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/contacts/{uuid}", "GET, PATCH, DELETE"),
        ("PUT", "/contacts", "GET, POST"),
        ("POST", "/auth/me", "GET"),
        ("PATCH", "/contacts/phone/123", "GET"),
    ],
)
def test_wrong_method(
    client: ApiClient, shared_sandbox: CallbellSandbox, method: str, path: str, allowed: str
) -> None:
    response = client.send(method, path.format(uuid=shared_sandbox.contacts()[0]["uuid"]))

    assert response.status_code == 405
    assert response.headers["Allow"] == allowed
    assert response.json() == {"error": "Method not allowed"}


@pytest.mark.parametrize(
    "path", ["/v1", "/v1/", "/v1/teams", "/v1/contacts/abc/bot", "/v1/messages", "/v2/contacts", "/"]
)
def test_unknown_path(shared_sandbox: CallbellSandbox, path: str) -> None:
    client = ApiClient(shared_sandbox)

    response = client.session.get(shared_sandbox.url.removesuffix("/v1") + path, timeout=10)

    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}


def test_trailing_slash_is_tolerated(client: ApiClient) -> None:
    assert client.get("/contacts/").json() == client.get("/contacts").json()
