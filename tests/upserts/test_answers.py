"""Upserts fed answers no sandbox gives: a lookup answered with another contact, a number two
contacts share, a contact without a usable uuid. Nothing is ever written to a contact the row
does not name."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_provider_callbell.api.contact_writes import single_contact
from airflow_provider_callbell.api.writes import Write
from airflow_provider_callbell.upserts.runner import Upsert, UpsertSettings

UUID = "7b5f6e0e6c1a4d8c9f3e2a1b0c9d8e7f"
OTHER = "f" * 32
NUMBER = "+39 333 000 1111"


@dataclass
class Answers:
    """A hook whose answers are given, parsed as the hook parses them; it records what it is asked."""

    contact: Any = None
    walked: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 10
    asked: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)

    def request(self, method: str, path: str) -> dict[str, Any]:
        return {"contacts": [], "meta": {"pages": self.pages}}

    def iter_contacts(self, concurrency: int) -> Iterator[dict[str, Any]]:
        return iter(self.walked)

    def get_contact(self, uuid: str) -> dict[str, Any]:
        self.asked.append(f"uuid {uuid}")
        return single_contact({"contact": self.contact}, uuid)

    def get_contact_by_phone(self, number: str, channel_uuid: str | None) -> dict[str, Any]:
        self.asked.append(f"phone {number}")
        return single_contact({"contact": self.contact}, phone=number)

    def write(self, write: Write[Any]) -> Any:
        self.written.append(write.path)
        return {}


def upsert(hook: Answers, rows: list[dict[str, Any]], match_on: str = "uuid") -> list[dict[str, Any]]:
    run = Upsert(hook, UpsertSettings(match_on=match_on), lambda: rows)  # type: ignore[arg-type]
    return [outcome.as_dict() for outcome in run.run()]


@pytest.mark.parametrize(
    ("contact", "row", "match_on", "reason"),
    [
        ({"uuid": OTHER, "tags": []}, {"uuid": UUID}, "uuid", f"with another contact ({OTHER})"),
        (
            {"uuid": OTHER, "phoneNumber": "+39 333 000 2222", "tags": []},
            {"phoneNumber": NUMBER},
            "phone",
            f"number …11 with a contact ({OTHER}) of another number",
        ),
        ({"name": "x", "tags": []}, {"uuid": UUID}, "uuid", "without a uuid that is a Callbell identifier"),
        ({"uuid": "../auth", "tags": []}, {"uuid": UUID}, "uuid", "without a uuid that is a Callbell"),
        ({"uuid": "None", "tags": []}, {"uuid": UUID}, "uuid", "without a uuid that is a Callbell"),
    ],
)
def test_an_answer_for_another_contact_fails_the_row_and_writes_nothing(
    contact: dict[str, Any], row: dict[str, Any], match_on: str, reason: str
) -> None:
    hook = Answers(contact)

    outcomes = upsert(hook, [{**row, "tags": ["hot"]}, {**row, "uuid": "c2", "tags": ["hot"]}], match_on)

    assert [outcome["outcome"] for outcome in outcomes] == ["failed", "failed"]
    assert reason in str(outcomes[0]["reason"])
    assert hook.written == []


def test_a_number_two_contacts_share_is_matched_as_callbell_looks_it_up() -> None:
    first = {"uuid": "a" * 32, "phoneNumber": NUMBER, "tags": [], "channel": {"uuid": "ig"}}
    second = {"uuid": "b" * 32, "phoneNumber": "+39 3330001111", "tags": [], "channel": {"uuid": "wa"}}
    hook = Answers(contact=second, walked=[first, second], pages=0)

    outcomes = upsert(hook, [{"phoneNumber": NUMBER, "tags": ["hot"]}], "phone")

    assert [(outcome["outcome"], outcome["uuid"]) for outcome in outcomes] == [("updated", "b" * 32)]
    assert (hook.asked, hook.written) == ([f"phone {NUMBER}"], [f"contacts/{'b' * 32}"])


def test_a_number_one_contact_holds_is_taken_from_the_walk() -> None:
    contact = {"uuid": "a" * 32, "phoneNumber": "0039 333 000 1111", "tags": []}
    hook = Answers(walked=[contact], pages=0)

    outcomes = upsert(hook, [{"phoneNumber": NUMBER, "tags": ["hot"]}], "phone")

    assert [(outcome["outcome"], outcome["uuid"]) for outcome in outcomes] == [("updated", "a" * 32)]
    assert (hook.asked, hook.written) == ([], [f"contacts/{'a' * 32}"])


def test_an_answer_for_another_contact_than_the_one_asked_for_is_invalid() -> None:
    """A GET or PATCH of one contact answered with another: never taken for the one named."""
    from airflow_provider_callbell.api.contact_writes import patch_contact
    from airflow_provider_callbell.exceptions import CallbellInvalidResponseError

    answer = {"contact": {"uuid": OTHER, "name": "Someone else"}}
    with pytest.raises(
        CallbellInvalidResponseError, match=f"a request for contact {UUID} with another contact"
    ):
        single_contact(answer, UUID)
    with pytest.raises(CallbellInvalidResponseError, match="with another contact"):
        patch_contact(UUID, {"name": "Ada"}).parse(answer)
    assert single_contact(answer, OTHER)["name"] == "Someone else"


def test_a_phone_lookup_answered_with_another_number_is_invalid() -> None:
    """Taken for the contact asked for, it would settle a lost create (or send) as applied."""
    from airflow_provider_callbell.api.contact_writes import create_contact
    from airflow_provider_callbell.exceptions import CallbellInvalidResponseError

    another = {"contact": {"uuid": OTHER, "phoneNumber": "+39 333 000 2222"}}
    refusal = rf"lookup of the phone number …11 with a contact \({OTHER}\) of another number"
    with pytest.raises(CallbellInvalidResponseError, match=refusal):
        single_contact(another, phone=NUMBER)
    same = {"contact": {"uuid": OTHER, "phoneNumber": "0039 3330001111"}}
    assert single_contact(same, phone=NUMBER)["uuid"] == OTHER

    find = create_contact(NUMBER, "Ada", "whatsapp", None, {}).find
    assert find is not None
    lookup = find()
    next(lookup)
    with pytest.raises(CallbellInvalidResponseError, match=refusal):
        lookup.send(another)
