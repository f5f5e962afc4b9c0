"""Which contacts a selection keeps: a contact whose tags or creation time cannot be read fails
the walk naming it, never read as letters, keys or 'not in the window'."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_callbell.api.leads import LeadWatch
from airflow_provider_callbell.api.selection import ContactSelection
from airflow_provider_callbell.exceptions import CallbellInvalidResponseError

CREATED = "2026-11-20T10:00:00Z"


@pytest.mark.parametrize(
    ("tags", "kept"),
    [(["Lead", "vip"], True), (["vip"], False), ([], False), (None, False)],
)
def test_tags_are_matched_case_insensitively(tags: Any, kept: bool) -> None:
    selection = ContactSelection.of(tags="lead")
    assert selection.matches({"uuid": "c1", "tags": tags, "createdAt": CREATED}) is kept


@pytest.mark.parametrize("tags", ["lead", {"lead": 1}, ["lead", 7]], ids=repr)
def test_tags_that_are_not_a_list_of_texts_fail_naming_the_contact(tags: Any) -> None:
    with pytest.raises(
        CallbellInvalidResponseError, match="the contact c1 with tags that are not a list of texts"
    ):
        ContactSelection.of(tags="e,a", tags_match="all").matches({"uuid": "c1", "tags": tags})


@pytest.mark.parametrize("stamp", [None, 1700000000, "20 Nov 2026 10:00 UTC", ""], ids=repr)
def test_a_creation_time_that_cannot_be_read_fails_a_window_and_a_watch(stamp: Any) -> None:
    contact = {"uuid": "c1", "tags": [], "createdAt": stamp}
    selection = ContactSelection.of(created_after="2026-11-01T00:00:00Z")
    with pytest.raises(CallbellInvalidResponseError, match="the contact c1 without a createdAt time"):
        selection.matches(contact)
    watch = LeadWatch.from_state(ContactSelection.of(), {"since": CREATED, "baseline": []})
    with pytest.raises(CallbellInvalidResponseError, match="the contact c1 without a createdAt time"):
        list(watch.new_leads([contact]))
