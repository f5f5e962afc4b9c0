"""Bad input the sandbox must answer 400, not 500 with a traceback: over real HTTP."""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING, Any

import pytest

from tests.sandbox.client import ApiClient

if TYPE_CHECKING:
    from airflow_provider_callbell.sandbox import CallbellSandbox
    from tests.sandbox.conftest import MakeSandbox

#: More digits than Python's int() reads from text (4300): int() raised ValueError, a 500.
HUGE_PAGE = "9" * 5000
#: JSON nested deeper than Python recurses: json.loads raised RecursionError, a 500.
DEEP_BODIES = [b"[" * 200_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000, b"[" * 50_000 + b"]" * 50_000]


@pytest.fixture
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="airflow_provider_callbell.sandbox")
    return caplog


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


def _uuid(client: ApiClient) -> str:
    return str(client.get("/contacts").json()["contacts"][0]["uuid"])


def test_a_page_of_thousands_of_digits_is_an_invalid_page(
    client: ApiClient, no_errors_logged: pytest.LogCaptureFixture
) -> None:
    for path in ("/contacts", f"/contacts/{_uuid(client)}/messages"):
        response = client.get(path, page=HUGE_PAGE)

        assert (response.status_code, response.json()) == (400, {"error": "Invalid page"}), path
    assert _errors(no_errors_logged) == []


def test_leading_zeros_do_not_count_as_digits(client: ApiClient) -> None:
    first = client.get("/contacts", page="1").json()
    response = client.get("/contacts", page="0" * 5000 + "1")

    assert (response.status_code, response.json()) == (200, first)


@pytest.mark.parametrize("body", DEEP_BODIES, ids=["unclosed-arrays", "nested-objects", "closed-arrays"])
def test_a_deeply_nested_json_body_is_malformed(
    client: ApiClient, no_errors_logged: pytest.LogCaptureFixture, body: bytes
) -> None:
    headers = {"Content-Type": "application/json"}
    for method, path in (
        ("POST", "/contacts"),
        ("PATCH", f"/contacts/{_uuid(client)}"),
        ("POST", "/messages/send"),
    ):
        response = client.send(method, path, data=body, headers=headers)

        assert (response.status_code, response.json()) == (
            400,
            {"error": "Malformed JSON body: nested too deeply"},
        ), path
    assert _errors(no_errors_logged) == []


def test_a_deeply_nested_cursor_is_an_invalid_cursor(
    client: ApiClient, no_errors_logged: pytest.LogCaptureFixture
) -> None:
    cursor = base64.urlsafe_b64encode(b"[" * 40_000).decode().rstrip("=")

    response = client.get("/contacts", after=cursor)

    assert (response.status_code, response.json()) == (400, {"error": "Invalid pagination cursor"})
    assert _errors(no_errors_logged) == []


# A lone surrogate ("\ud800" in JSON) is half a character: stored, it could never be sent back.
NOT_UNICODE = "(not valid Unicode: it holds a lone surrogate)"
NEW_CONTACT = {"identifier": "+39 333 000 1111", "source": "whatsapp", "name": "Ada"}
SURROGATE_CONTACTS = [
    ({"name": "Ada \ud800"}, "Invalid field: name"),
    ({"identifier": "+39 333 \udc00"}, "Invalid field: identifier"),
    ({"tags": ["lead", "\udfff"]}, "Invalid field: tags[1]"),
    ({"custom_fields": {"City": "Rome\ud800"}}, "Invalid field: custom_fields.City"),
    ({"custom_fields": {"\ud800": "Rome"}}, "Invalid field: custom_fields"),
    ({"custom_fields": {"K" * 5000: "\ud800"}}, "Invalid field: custom_fields." + "K" * 50 + "..."),
    ({"\ud800": "an unknown field"}, "Invalid field name"),
]
SURROGATE_MESSAGES = [
    ({"content": {"text": "Hi \ud800"}}, "Invalid field: content.text"),
    ({"metadata": {"order": "\udc00"}}, "Invalid field: metadata.order"),
    ({"metadata": {"\udc00": "1"}}, "Invalid field: metadata"),
    ({"content": {"text": "Hi", "dropped": ["\ud800"]}}, "Invalid field: content.dropped[0]"),
]


@pytest.fixture
def writable(make_sandbox: MakeSandbox) -> CallbellSandbox:
    return make_sandbox(contacts=10, seed=8)


def _refusal(field: str) -> tuple[int, dict[str, str]]:
    return 400, {"error": f"{field} {NOT_UNICODE}"}


@pytest.mark.parametrize(("change", "field"), SURROGATE_CONTACTS)
def test_contact_text_that_is_not_unicode_is_refused(
    writable: CallbellSandbox, no_errors_logged: pytest.LogCaptureFixture, change: dict[str, Any], field: str
) -> None:
    client = ApiClient(writable)
    before = writable.contacts()

    created = client.post("/contacts", {**NEW_CONTACT, **change})
    patched = client.patch(f"/contacts/{before[0]['uuid']}", change)

    assert (created.status_code, created.json()) == _refusal(field)
    assert (patched.status_code, patched.json()) == _refusal(field)
    assert writable.contacts() == before
    assert _errors(no_errors_logged) == []


@pytest.mark.parametrize(("change", "field"), SURROGATE_MESSAGES)
def test_message_text_that_is_not_unicode_is_refused(
    writable: CallbellSandbox, no_errors_logged: pytest.LogCaptureFixture, change: dict[str, Any], field: str
) -> None:
    client = ApiClient(writable)
    contact = next(c for c in writable.contacts() if c["source"] == "whatsapp")
    writable.receive_message(contact["uuid"])
    body = {"to": contact["phoneNumber"], "from": "whatsapp", "content": {"text": "Hi"}, **change}

    response = client.post("/messages/send", body)

    assert (response.status_code, response.json()) == _refusal(field)
    assert [m["direction"] for m in writable.messages()] == ["inbound"]
    assert client.get(f"/contacts/{contact['uuid']}/messages").status_code == 200
    assert _errors(no_errors_logged) == []


def test_a_surrogate_sent_as_raw_bytes_is_refused_too(writable: CallbellSandbox) -> None:
    # json.loads reads UTF-8 bodies with "surrogatepass": the encoded surrogate ED A0 80 gets through.
    body = b'{"identifier": "+39 333 000 1111", "source": "whatsapp", "name": "Ada \xed\xa0\x80"}'

    response = ApiClient(writable).send("POST", "/contacts", data=body)

    assert (response.status_code, response.json()) == _refusal("Invalid field: name")


def test_a_surrogate_pair_is_one_character_and_accepted(writable: CallbellSandbox) -> None:
    body = b'{"identifier": "+39 333 000 1111", "source": "whatsapp", "name": "Ada \\ud83d\\ude00"}'

    response = ApiClient(writable).send("POST", "/contacts", data=body)

    assert response.status_code == 200
    assert response.json()["contact"]["name"] == "Ada \U0001f600"


@pytest.mark.parametrize(("inner", "answer"), [(b"", 200), (b'"\\ud800"', 400)])
def test_a_body_nested_as_deeply_as_json_reads_is_checked_without_recursing(
    writable: CallbellSandbox, no_errors_logged: pytest.LogCaptureFixture, inner: bytes, answer: int
) -> None:
    # json.encoder recurses as json.loads does, from a few frames deeper: the deepest bodies
    # json.loads reads were too deep for it, a 500.
    client = ApiClient(writable)
    head = b'{"identifier": "+39 333 000 1111", "source": "whatsapp", "name": "Ada", "extra": '
    for depth in range(1000, 0, -1):
        body = head + b"[" * depth + inner + b"]" * depth + b"}"
        response = client.send("POST", "/contacts", data=body)
        if response.json() != {"error": "Malformed JSON body: nested too deeply"}:
            break

    assert response.status_code == answer, response.text
    if answer == 400:
        assert response.json()["error"] == f"Invalid field: extra{'[0]' * depth} {NOT_UNICODE}"
    assert _errors(no_errors_logged) == []
