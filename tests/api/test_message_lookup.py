"""Finding a message by its idempotency key, and reading a sent message, fed answers no sandbox
gives (Callbell's unknowns)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_callbell.api.messages import OutgoingMessage, send_message, sent_message
from airflow_provider_callbell.api.writes import Get
from airflow_provider_callbell.exceptions import (
    CallbellInvalidResponseError,
    CallbellNotFoundError,
    CallbellWriteUncertainError,
)
from airflow_provider_callbell.messaging.delivery import DeliveryWatch

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MESSAGE = OutgoingMessage(to="+39 333 000 1111", text="Ciao")


def at(minutes: int) -> str:
    return (NOW + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def look(*pages: Any) -> tuple[Any, list[Get]]:
    """Run the lookup of a send made at NOW, answering its requests with ``pages`` in turn."""
    find = send_message(MESSAGE, "key-1", now=NOW).find
    assert find is not None
    lookup, asked = find(), []
    try:
        request = next(lookup)
        for page in pages:
            asked.append(request)
            request = lookup.throw(page) if isinstance(page, Exception) else lookup.send(page)
    except StopIteration as done:
        return done.value, asked
    raise AssertionError(f"the lookup wanted more than the pages given: {request}")


CONTACT = {"contact": {"uuid": "c1", "phoneNumber": "+393330001111"}}


def test_found_on_the_second_page() -> None:
    recent = [{"uuid": f"m{n}", "createdAt": at(1), "metadata": {}} for n in range(20)]
    ours = {"uuid": "ours", "status": "sent", "createdAt": at(0), "metadata": {"idempotency_key": "key-1"}}

    found, asked = look(CONTACT, {"messages": recent}, {"messages": [ours]})

    assert found == {"uuid": "ours", "status": "sent"}
    assert [(get.path, get.params) for get in asked][1:] == [
        ("contacts/c1/messages", {"page": "1"}),
        ("contacts/c1/messages", {"page": "2"}),
    ]


def test_not_sent_when_only_older_messages_follow() -> None:
    older = [{"uuid": "old", "createdAt": at(-60), "metadata": {"idempotency_key": "key-1"}}]

    assert look(CONTACT, {"messages": older})[0] is None


def test_a_lookup_answered_with_a_contact_of_another_number_is_invalid() -> None:
    """Its messages are not the ones to search: the send's outcome stays unknown, not settled."""
    another = {"contact": {"uuid": "c2", "phoneNumber": "+39 333 000 2222"}}

    with pytest.raises(CallbellInvalidResponseError, match=r"…11 with a contact \(c2\) of another number"):
        look(another)


def test_not_sent_when_the_recipient_is_no_contact() -> None:
    assert look(CallbellNotFoundError("404"))[0] is None


def test_messages_listed_without_metadata_cannot_tell() -> None:
    with pytest.raises(CallbellWriteUncertainError, match=r"key-1.*without their metadata.*not sent again"):
        look(CONTACT, {"messages": [{"uuid": "m", "createdAt": at(0)}]})


def test_unreadable_times_are_looked_at() -> None:
    ours = {"uuid": "ours", "createdAt": "yesterday-ish", "metadata": {"idempotency_key": "key-1"}}

    assert look(CONTACT, {"messages": [ours]})[0] == {"uuid": "ours", "status": None}


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ({"uuid": "None", "status": "enqueued"}, "without a uuid that is a Callbell identifier"),
        ({"uuid": "../../contacts/x"}, "without a uuid that is a Callbell identifier"),
        ({"uuid": "a b"}, "without a uuid that is a Callbell identifier"),
        ({"uuid": "m1", "status": ["delivered"]}, "a message status that is not text: a list"),
    ],
)
def test_a_sent_message_answer_without_a_usable_uuid_or_status_is_invalid(
    message: dict[str, Any], problem: str
) -> None:
    with pytest.raises(CallbellInvalidResponseError, match=problem):
        sent_message({"message": message})


def test_a_status_in_capitals_is_the_status() -> None:
    watch = DeliveryWatch.of(["m1", "m2"])
    for uuid, status in [("m1", " FAILED"), ("m2", "Delivered")]:
        watch.update(uuid, sent_message({"message": {"uuid": uuid, "status": status}})["status"])
    assert (watch.done, watch.failed) == (True, ["m1"])


def test_a_message_found_by_its_key_has_its_uuid_checked() -> None:
    ours = {"uuid": "x/y", "status": "sent", "createdAt": at(0), "metadata": {"idempotency_key": "key-1"}}
    with pytest.raises(CallbellInvalidResponseError, match="without a uuid"):
        look(CONTACT, {"messages": [ours]})
