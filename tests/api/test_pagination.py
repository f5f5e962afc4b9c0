"""ContactWalk on answers the sandbox does not produce: odd meta, repeated cursors, no uuids."""

from __future__ import annotations

import pytest

from airflow_provider_callbell.api.filters import ContactFilters
from airflow_provider_callbell.api.pagination import ContactPage, ContactWalk
from airflow_provider_callbell.exceptions import CallbellInvalidResponseError, CallbellPaginationLimitError


def test_page_parse_tolerates_odd_meta() -> None:
    page = ContactPage.parse({"contacts": [{"uuid": "a"}], "meta": {"pages": "3", "next": ""}})

    assert page == ContactPage(contacts=[{"uuid": "a"}], pages=None, next_cursor=None)


@pytest.mark.parametrize("document", [None, [], {"contact": []}, {"contacts": {"uuid": "a"}}])
def test_page_without_contact_list_is_invalid(document: object) -> None:
    with pytest.raises(CallbellInvalidResponseError, match="without a 'contacts' list"):
        ContactPage.parse(document)


def test_filters_travel_with_every_request() -> None:
    walk = ContactWalk(ContactFilters.of(source="whatsapp", tags=["lead", " VIP "]))

    assert walk.next_params() == {"source": "whatsapp", "tags": "lead,VIP", "page": "1"}
    walk.accept(ContactPage([{"uuid": "a"}], next_cursor="c1"))
    walk.page_limit_reached(CallbellPaginationLimitError("400", status=400))
    assert walk.next_params() == {"source": "whatsapp", "tags": "lead,VIP", "after": "c1"}


def test_a_cursor_that_does_not_move_ends_the_walk() -> None:
    walk = ContactWalk(ContactFilters())
    walk.accept(ContactPage([{"uuid": "a"}], next_cursor="c1"))
    walk.page_limit_reached(CallbellPaginationLimitError("400"))

    assert walk.accept(ContactPage([{"uuid": "b"}], next_cursor="c1")) == [{"uuid": "b"}]
    assert walk.done


def test_contacts_without_uuid_are_kept() -> None:
    walk = ContactWalk(ContactFilters())

    assert walk.accept(ContactPage([{"name": "x"}, {"name": "x"}])) == [{"name": "x"}, {"name": "x"}]


def test_a_second_page_limit_while_on_the_cursor_is_an_error() -> None:
    walk = ContactWalk(ContactFilters())
    walk.accept(ContactPage([{"uuid": "a"}], next_cursor="c1"))
    walk.page_limit_reached(CallbellPaginationLimitError("400"))

    with pytest.raises(CallbellPaginationLimitError, match="no cursor"):
        walk.page_limit_reached(CallbellPaginationLimitError("400"))


def test_page_size_is_learnt_from_the_first_non_empty_page() -> None:
    walk = ContactWalk(ContactFilters())
    walk.accept(ContactPage([{"uuid": str(n)} for n in range(13)], pages=2))

    assert walk.page_size == 13
