"""Templates, sending messages, the 24-hour window, delivery statuses, a contact's messages."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_callbell.sandbox import CallbellSandbox
from tests.sandbox.client import ApiClient

if TYPE_CHECKING:
    import requests

    from tests.sandbox.conftest import MakeSandbox

HEX_UUID = re.compile(r"[0-9a-f]{32}")
WINDOW_CLOSED = (
    "Outside the 24-hour customer service window: only an approved template can be sent to this contact"
)
PROGRESS = ["enqueued", "sent", "delivered", "read"]


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> CallbellSandbox:
    return make_sandbox(contacts=40, seed=8)


@pytest.fixture
def api(sandbox: CallbellSandbox) -> ApiClient:
    return ApiClient(sandbox)


def on_source(sandbox: CallbellSandbox, source: str, index: int = 0) -> dict[str, Any]:
    """The ``index``-th contact of ``source``, in list order."""
    return [c for c in sandbox.contacts() if c["source"] == source][index]


def reachable(sandbox: CallbellSandbox, index: int = 0) -> dict[str, Any]:
    """A WhatsApp contact whose customer just wrote."""
    contact = on_source(sandbox, "whatsapp", index)
    sandbox.receive_message(contact["uuid"])
    return contact


def approved(sandbox: CallbellSandbox, placeholders: int) -> dict[str, Any]:
    """An approved template with that many placeholders."""
    return next(
        t
        for t in sandbox.templates
        if t["status"] == "approved" and len(set(re.findall(r"\{\{\d+\}\}", t["text"]))) == placeholders
    )


def text_to(contact: dict[str, Any], text: str = "Hi!", **extra: Any) -> dict[str, Any]:
    return {
        "to": contact["phoneNumber"],
        "from": "whatsapp",
        "type": "text",
        "content": {"text": text},
        **extra,
    }


def template_to(contact: dict[str, Any], template: dict[str, Any], values: list[str]) -> dict[str, Any]:
    return {
        "to": contact["phoneNumber"],
        "from": "whatsapp",
        "template_uuid": template["uuid"],
        "optin_contact": True,
        "template_values": values,
    }


def send(api: ApiClient, body: dict[str, Any]) -> requests.Response:
    return api.post("/messages/send", body)


def sent_uuid(api: ApiClient, body: dict[str, Any]) -> str:
    response = send(api, body)
    assert response.status_code == 200, response.text
    uuid: str = response.json()["message"]["uuid"]
    return uuid


def status(api: ApiClient, uuid: str) -> dict[str, Any]:
    response = api.get(f"/messages/status/{uuid}")
    assert response.status_code == 200
    message: dict[str, Any] = response.json()["message"]
    return message


def statuses_until(api: ApiClient, uuid: str, final: str, timeout: float = 3.0) -> list[str]:
    """The distinct statuses seen, in order, polling until ``final``."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = status(api, uuid)["status"]
        if not seen or seen[-1] != current:
            seen.append(current)
        if current == final:
            return seen
        time.sleep(0.01)
    raise AssertionError(f"no {final!r} within {timeout}s, saw {seen}")


# Templates


def test_templates_listing(sandbox: CallbellSandbox, api: ApiClient) -> None:
    listing = api.get("/templates").json()

    assert listing == {"templates": sandbox.templates, "meta": {"page": 1, "pages": 1}}
    templates = listing["templates"]
    assert len(templates) >= 3
    assert all(HEX_UUID.fullmatch(t["uuid"]) for t in templates)
    assert {"name", "status", "category", "language", "text"} <= set(templates[0])
    assert approved(sandbox, 1)["uuid"] != approved(sandbox, 2)["uuid"]
    assert {t["status"] for t in templates} - {"approved"}
    assert api.get("/templates", page=2).json() == {"templates": [], "meta": {"page": 2, "pages": 1}}
    assert api.get("/templates", page="x").status_code == 400


def test_one_template(sandbox: CallbellSandbox, api: ApiClient) -> None:
    template = sandbox.templates[2]

    assert api.get(f"/templates/{template['uuid']}").json() == {"template": template}
    unknown = api.get("/templates/" + "0" * 32)
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Template not found"})


def test_templates_are_seeded() -> None:
    def uuids(seed: int) -> list[str]:
        return [t["uuid"] for t in CallbellSandbox(contacts=0, seed=seed).templates]

    assert uuids(3) == uuids(3)
    assert set(uuids(3)).isdisjoint(uuids(4))


# Sending


def test_text_inside_the_window_progresses_to_read(sandbox: CallbellSandbox, api: ApiClient) -> None:
    contact = reachable(sandbox)
    sandbox.configure(message_status_interval=60)

    response = send(api, text_to(contact, "Your order is ready", metadata={"key": "order-7"}))

    uuid = response.json()["message"]["uuid"]
    assert response.status_code == 200
    assert response.json() == {"message": {"uuid": uuid, "status": "enqueued"}}
    assert HEX_UUID.fullmatch(uuid)
    first = status(api, uuid)
    assert first == {
        "uuid": uuid,
        "status": "enqueued",
        "createdAt": first["createdAt"],
        "to": contact["phoneNumber"],
        "contact": {"uuid": contact["uuid"]},
        "metadata": {"key": "order-7"},
        "messageStatusPayload": {
            "status": "enqueued",
            "timestamp": first["messageStatusPayload"]["timestamp"],
        },
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["createdAt"])

    sandbox.configure(message_status_interval=0.05)
    seen = statuses_until(api, uuid, "read")

    assert seen == sorted(seen, key=PROGRESS.index)
    assert seen[0] in ("enqueued", "sent")
    read = status(api, uuid)["messageStatusPayload"]
    assert read["status"] == "read"
    assert "errors" not in read
    assert int(read["timestamp"]) >= int(first["messageStatusPayload"]["timestamp"])


def test_sent_message_is_stored(sandbox: CallbellSandbox, api: ApiClient) -> None:
    contact = reachable(sandbox)
    formatted = re.sub(r"\D", "", contact["phoneNumber"])

    uuid = sent_uuid(api, {**text_to(contact, "Hello"), "to": formatted})

    [stored] = sandbox.messages(contact["uuid"])[1:]
    assert stored == {
        "uuid": uuid,
        "contactUuid": contact["uuid"],
        "direction": "outbound",
        "status": "enqueued",
        "to": formatted,
        "from": "whatsapp",
        "type": "text",
        "content": {"text": "Hello"},
        "text": "Hello",
        "templateUuid": None,
        "templateValues": [],
        "metadata": {},
        "createdAt": stored["createdAt"],
    }
    assert [m["uuid"] for m in sandbox.messages()] == [m["uuid"] for m in sandbox.messages(contact["uuid"])]


@pytest.mark.parametrize("kind", ["image", "document", "audio", "video"])
def test_media_messages(sandbox: CallbellSandbox, api: ApiClient, kind: str) -> None:
    contact = reachable(sandbox)
    content = {"url": f"https://example.com/file.{kind}", "text": "caption"}

    sent_uuid(api, {**text_to(contact), "type": kind, "content": content})

    assert sandbox.messages(contact["uuid"])[-1]["type"] == kind
    assert sandbox.messages(contact["uuid"])[-1]["content"] == content


def test_free_form_outside_the_window_is_refused(sandbox: CallbellSandbox, api: ApiClient) -> None:
    contact = reachable(sandbox, 1)
    sandbox.close_window(contact["uuid"])
    top = sandbox.contacts()[1]["uuid"]
    sandbox.update_contact(top, touch=True)

    refused = send(api, text_to(contact))

    assert refused.status_code == 422
    assert refused.json() == {"error": WINDOW_CLOSED}
    assert "24-hour" in refused.json()["error"]
    assert "template" in refused.json()["error"]
    assert [m["direction"] for m in sandbox.messages(contact["uuid"])] == ["inbound"]
    assert sandbox.contacts()[0]["uuid"] == top
    sandbox.receive_message(contact["uuid"], "I'm back")
    assert send(api, text_to(contact)).status_code == 200


def test_a_template_goes_out_of_the_window(sandbox: CallbellSandbox, api: ApiClient) -> None:
    contact = on_source(sandbox, "whatsapp", 2)
    sandbox.close_window(contact["uuid"])
    template = approved(sandbox, 2)

    uuid = sent_uuid(api, template_to(contact, template, ["Ann", "#42"]))

    [stored] = sandbox.messages(contact["uuid"])
    assert (stored["uuid"], stored["templateUuid"], stored["templateValues"]) == (
        uuid,
        template["uuid"],
        ["Ann", "#42"],
    )
    assert "Ann" in stored["text"]
    assert "#42" in stored["text"]
    assert "{{" not in stored["text"]
    assert send(api, text_to(contact)).status_code == 422


def test_one_placeholder_template_takes_the_content_text(sandbox: CallbellSandbox, api: ApiClient) -> None:
    contact = on_source(sandbox, "whatsapp")
    template = approved(sandbox, 1)
    body = {**template_to(contact, template, []), "content": {"text": "Zoë"}}
    del body["template_values"]

    sent_uuid(api, body)

    assert sandbox.messages(contact["uuid"])[-1]["templateValues"] == ["Zoë"]


def test_template_to_an_unknown_number_creates_the_contact(sandbox: CallbellSandbox, api: ApiClient) -> None:
    template = approved(sandbox, 1)
    stranger = {"phoneNumber": "+44 7700 900123"}
    body = {**template_to(stranger, template, ["Sam"]), "from": "telegram"}

    refused = send(api, {**text_to({"phoneNumber": "+44 7700 900999"}), "from": "telegram"})
    sent_uuid(api, body)

    assert (refused.status_code, refused.json()) == (422, {"error": WINDOW_CLOSED})
    assert api.get("/contacts/phone/447700900999").status_code == 404
    created = api.get("/contacts/phone/447700900123").json()["contact"]
    assert (created["name"], created["source"]) == ("+44 7700 900123", "telegram")
    assert sandbox.contacts()[0]["uuid"] == created["uuid"]
    assert [m["contactUuid"] for m in sandbox.messages()] == [created["uuid"]]


def test_other_sources_have_no_window(sandbox: CallbellSandbox, api: ApiClient) -> None:
    contact = next(c for c in sandbox.contacts() if c["source"] not in ("whatsapp",))
    sandbox.close_window(contact["uuid"])

    response = send(api, {**text_to(contact), "from": contact["source"]})

    assert response.status_code == 200


def test_about_half_of_the_seeded_customers_wrote_lately(make_sandbox: MakeSandbox) -> None:
    def accepted(sandbox: CallbellSandbox) -> set[str]:
        api = ApiClient(sandbox)
        whatsapp = [c for c in sandbox.contacts() if c["source"] == "whatsapp"]
        answers = {c["uuid"]: send(api, text_to(c)).status_code for c in whatsapp}
        assert set(answers.values()) == {200, 422}
        return {uuid for uuid, code in answers.items() if code == 200}

    first = make_sandbox(contacts=80, seed=2)
    whatsapp = sum(c["source"] == "whatsapp" for c in first.contacts())

    open_windows = accepted(first)

    assert 0.3 * whatsapp <= len(open_windows) <= 0.7 * whatsapp
    assert accepted(make_sandbox(contacts=80, seed=2)) == open_windows


def test_a_message_event_opens_the_window(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=0, event_mix={"message": 1})
    api = ApiClient(sandbox)
    contact = sandbox.add_contact(name="New", phoneNumber="+39 333 000 1111", source="whatsapp")
    refused = send(api, text_to(contact))

    [event] = sandbox.apply_events(1)

    assert refused.status_code == 422
    assert event.uuid == contact["uuid"]
    assert send(api, text_to(contact)).status_code == 200


def test_send_by_bsuid(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=0)
    api = ApiClient(sandbox)
    contact = sandbox.add_contact(name="B", source="whatsapp", bsuid="IT.77")
    sandbox.receive_message(contact["uuid"])
    body = {"bsuid": "IT.77", "from": "whatsapp", "content": {"text": "Hi"}}

    sent_uuid(api, body)
    unknown = send(api, {**body, "bsuid": "IT.78"})

    assert [(m["to"], m["direction"]) for m in sandbox.messages(contact["uuid"])][1:] == [(None, "outbound")]
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Contact not found"})


def test_channel_uuid_picks_the_contact_of_that_channel(sandbox: CallbellSandbox, api: ApiClient) -> None:
    contact = reachable(sandbox)
    other = next(
        c["channel"]["uuid"]
        for c in sandbox.contacts()
        if c["source"] == "whatsapp" and c["channel"]["uuid"] != contact["channel"]["uuid"]
    )

    on_its_channel = send(api, text_to(contact, channel_uuid=contact["channel"]["uuid"]))
    on_another = send(api, text_to(contact, channel_uuid=other))

    assert on_its_channel.status_code == 200
    assert on_another.status_code == 422


def test_the_messaged_contact_moves_to_the_top(sandbox: CallbellSandbox, api: ApiClient) -> None:
    last = sandbox.contacts()[-1]
    template = approved(sandbox, 1)

    sent_uuid(api, {**template_to(last, template, ["Al"]), "from": last["source"]})

    assert sandbox.contacts()[0]["uuid"] == last["uuid"]
    assert api.get("/contacts").json()["contacts"][0]["uuid"] == last["uuid"]


# Validation


def valid_text(sandbox: CallbellSandbox) -> dict[str, Any]:
    return text_to(reachable(sandbox), metadata={"k": "v"})


def valid_template(sandbox: CallbellSandbox) -> dict[str, Any]:
    return template_to(on_source(sandbox, "whatsapp"), approved(sandbox, 2), ["a", "b"])


def unapproved(sandbox: CallbellSandbox, status_name: str) -> dict[str, Any]:
    template = next(t for t in sandbox.templates if t["status"] == status_name)
    return {"template_uuid": template["uuid"]}


INVALID_TEXT = [
    ({"from": None}, "Missing required field: from"),
    ({"from": "pigeon"}, "Invalid field: from"),
    ({"to": None}, "Missing required field: to (or bsuid)"),
    ({"to": "call me"}, "Invalid field: to"),
    ({"type": "sticker"}, "Invalid field: type"),
    ({"content": {}}, "Missing required field: content.text"),
    ({"content": "Hi"}, "Invalid field: content"),
    ({"type": "image", "content": {"text": "no url"}}, "Missing required field: content.url"),
    ({"type": "image", "content": {"url": "file:///etc/passwd"}}, "Invalid field: content.url"),
    ({"channel_uuid": "0" * 32}, "Invalid field: channel_uuid"),
    ({"metadata": {f"k{n}": "v" for n in range(11)}}, "Invalid field: metadata (at most 10 keys"),
    ({"metadata": {"k" * 51: "v"}}, "Invalid field: metadata (keys must be at most 50 characters"),
    ({"metadata": {"k": "v" * 501}}, "Invalid field: metadata (values must be strings of at most 500"),
    ({"metadata": {"k": 1}}, "Invalid field: metadata (values must be strings"),
    ({"metadata": ["k"]}, "Invalid field: metadata"),
    ({"assigned_user": 7}, "Invalid field: assigned_user"),
    ({"bot_status": True}, "Invalid field: bot_status"),
    ({"template_values": "a"}, "Invalid field: template_values"),
    ({"content": {"text": "x" * 4097}}, "Invalid field: content.text (longer than 4096)"),
    (
        {"type": "image", "content": {"url": "https://x.io/" + "a" * 2036}},
        "Invalid field: content.url (longer",
    ),
    ({"type": "image", "content": {"url": "https://x.io/a", "text": 7}}, "Invalid field: content.text"),
    ({"assigned_user": "a" * 1001}, "Invalid field: assigned_user (longer than 1000)"),
]
INVALID_TEMPLATE = [
    ({"optin_contact": None}, "Missing required field: optin_contact"),
    ({"optin_contact": False}, "Missing required field: optin_contact"),
    ({"optin_contact": "yes"}, "Invalid field: optin_contact"),
    ({"template_uuid": "0" * 32}, "Invalid field: template_uuid (unknown template)"),
    ({"template_values": ["a"]}, "Invalid field: template_values (the template has 2 placeholder(s), got 1"),
    ({"template_values": ["a", "b", "c"]}, "Invalid field: template_values"),
    ({"template_values": None}, "Invalid field: template_values"),
    ({"template_values": ["a", 2]}, "Invalid field: template_values (expected a list of strings)"),
    ({"template_values": ["a", "b" * 1001]}, "Invalid field: template_values (each at most 1000 characters)"),
]


@pytest.mark.parametrize(("change", "error"), INVALID_TEXT)
def test_invalid_text_messages(
    sandbox: CallbellSandbox, api: ApiClient, change: dict[str, Any], error: str
) -> None:
    body = valid_text(sandbox)
    assert send(api, body).status_code == 200

    response = send(api, {**body, **change})

    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert len(sandbox.messages()) == 2  # the inbound message and the valid one


@pytest.mark.parametrize(("change", "error"), INVALID_TEMPLATE)
def test_invalid_template_messages(
    sandbox: CallbellSandbox, api: ApiClient, change: dict[str, Any], error: str
) -> None:
    body = valid_template(sandbox)
    assert send(api, body).status_code == 200

    response = send(api, {**body, **change})

    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert len(sandbox.messages()) == 1


@pytest.mark.parametrize("status_name", ["pending", "rejected"])
def test_unapproved_templates_are_refused(sandbox: CallbellSandbox, api: ApiClient, status_name: str) -> None:
    response = send(api, {**valid_template(sandbox), **unapproved(sandbox, status_name)})

    assert response.status_code == 400
    assert response.json() == {
        "error": f"Invalid field: template_uuid (the template is {status_name}, not approved)"
    }
    assert sandbox.messages() == []


def test_metadata_at_its_limits_is_accepted(sandbox: CallbellSandbox, api: ApiClient) -> None:
    metadata = {f"{n}".rjust(50, "k"): "v" * 500 for n in range(10)}

    uuid = sent_uuid(api, {**valid_text(sandbox), "metadata": metadata})

    assert status(api, uuid)["metadata"] == metadata


def test_malformed_body(api: ApiClient) -> None:
    response = api.send("POST", "/messages/send", data=b"{not json")

    assert (response.status_code, response.json()) == (400, {"error": "Malformed JSON body"})


# Failures


def test_messages_to_an_unreachable_number_fail(sandbox: CallbellSandbox, api: ApiClient) -> None:
    sandbox.configure(message_status_interval=0.05)
    doomed, fine = reachable(sandbox, 0), reachable(sandbox, 1)
    sandbox.make_unreachable(re.sub(r"\D", "", doomed["phoneNumber"]))

    failing = sent_uuid(api, text_to(doomed))
    delivered = sent_uuid(api, text_to(fine))

    assert statuses_until(api, failing, "failed")[-1] == "failed"
    payload = status(api, failing)["messageStatusPayload"]
    assert payload["status"] == "failed"
    assert payload["errors"] == [{"code": 131026, "title": "Message undeliverable"}]
    assert statuses_until(api, delivered, "read")[-1] == "read"
    assert [m["status"] for m in sandbox.messages()][-2:] == ["failed", "read"]


def test_failure_rate_fates_are_seeded(make_sandbox: MakeSandbox) -> None:
    def fates(seed: int) -> list[str]:
        sandbox = make_sandbox(contacts=10, seed=seed, message_failure_rate=0.5, message_status_interval=0.01)
        api = ApiClient(sandbox)
        contact = on_source(sandbox, "whatsapp")
        uuids = [sent_uuid(api, template_to(contact, approved(sandbox, 1), [str(n)])) for n in range(16)]
        time.sleep(0.05)
        return [status(api, uuid)["status"] for uuid in uuids]

    first = fates(1)

    assert set(first) == {"failed", "read"}
    assert fates(1) == first


def test_failed_messages_carry_errors(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(contacts=10, message_failure_rate=1.0, message_status_interval=0.01)
    api = ApiClient(sandbox)

    uuid = sent_uuid(api, text_to(reachable(sandbox)))
    time.sleep(0.05)

    assert status(api, uuid)["messageStatusPayload"]["errors"] == [
        {"code": 131000, "title": "Something went wrong"}
    ]


def test_unknown_message(api: ApiClient, sandbox: CallbellSandbox) -> None:
    inbound = sandbox.receive_message(sandbox.contacts()[3]["uuid"])

    for uuid in ("0" * 32, inbound["uuid"]):
        response = api.get(f"/messages/status/{uuid}")
        assert (response.status_code, response.json()) == (404, {"error": "Message not found"})


# A contact's messages


def test_contact_messages_newest_first_in_pages(sandbox: CallbellSandbox, api: ApiClient) -> None:
    contact = reachable(sandbox)
    other = reachable(sandbox, 1)
    for n in range(23):
        if n == 10:
            sandbox.receive_message(contact["uuid"], "Thanks")
        sent_uuid(api, text_to(contact, f"#{n}", metadata={"idempotency_key": f"key-{n}"}))
    sent_uuid(api, text_to(other))
    history = [m["uuid"] for m in sandbox.messages(contact["uuid"])]

    pages = [api.get(f"/contacts/{contact['uuid']}/messages", page=n).json()["messages"] for n in (1, 2, 3)]

    assert [len(page) for page in pages] == [20, 5, 0]
    listed = pages[0] + pages[1]
    assert [m["uuid"] for m in listed] == history[::-1]
    assert listed == sorted(listed, key=lambda m: m["createdAt"], reverse=True)
    assert listed[0]["metadata"] == {"idempotency_key": "key-22"}
    assert set(listed[0]) == {
        "uuid",
        "status",
        "createdAt",
        "direction",
        "channel",
        "type",
        "content",
        "text",
        "metadata",
    }
    inbound = [m for m in listed if m["direction"] == "inbound"]
    assert [(m["content"], m["metadata"], m["status"]) for m in inbound] == [
        ({"text": "Thanks"}, {}, "received"),
        ({"text": "Hello!"}, {}, "received"),
    ]
    found = [m for m in listed if m["metadata"].get("idempotency_key") == "key-3"]
    assert [m["content"] for m in found] == [{"text": "#3"}]
    assert api.get(f"/contacts/{contact['uuid']}/messages").json()["messages"] == pages[0]


def test_contact_messages_errors(sandbox: CallbellSandbox, api: ApiClient) -> None:
    unknown = api.get("/contacts/" + "0" * 32 + "/messages")
    bad_page = api.get(f"/contacts/{sandbox.contacts()[0]['uuid']}/messages", page=0)

    assert (unknown.status_code, unknown.json()) == (404, {"error": "Contact not found"})
    assert (bad_page.status_code, bad_page.json()) == (400, {"error": "Invalid page"})


def test_deleting_a_contact_deletes_its_messages(sandbox: CallbellSandbox, api: ApiClient) -> None:
    gone, kept = reachable(sandbox), reachable(sandbox, 1)
    uuid = sent_uuid(api, text_to(gone))
    sent_uuid(api, text_to(kept))

    assert api.send("DELETE", f"/contacts/{gone['uuid']}").status_code == 200

    assert sandbox.messages(gone["uuid"]) == []
    assert api.get(f"/messages/status/{uuid}").status_code == 404
    assert {m["contactUuid"] for m in sandbox.messages()} == {kept["uuid"]}
    assert len(sandbox.messages(kept["uuid"])) == 2


def test_steering_unknown_contacts(sandbox: CallbellSandbox) -> None:
    for steer in (sandbox.receive_message, sandbox.close_window):
        with pytest.raises(KeyError):
            steer("0" * 32)
    with pytest.raises(ValueError, match="phone number"):
        sandbox.make_unreachable("nobody")
