"""ContactWalk on answers the sandbox does not produce: odd meta, cursors in circles, bad items.

The walk does no I/O, so these tests answer its requests from small scripted servers. What it
does on a real, moving account is tested over HTTP in tests/hooks/test_live_account.py.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from airflow_provider_callbell.api.filters import ContactFilters
from airflow_provider_callbell.api.pagination import ContactPage
from airflow_provider_callbell.api.walk import ContactWalk
from airflow_provider_callbell.exceptions import CallbellInvalidResponseError, CallbellPaginationLimitError

Server = Callable[[Mapping[str, str]], dict[str, Any]]
log = logging.getLogger(__name__)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run(server: Server, *, concurrency: int = 1, max_requests: int = 1000, filters: Any = None) -> list[str]:
    """Walk to the end, answering the requests due in turn; the uuids handed out, in order."""
    walk = ContactWalk(filters or ContactFilters(), concurrency=concurrency, log=log, clock=Clock())
    handed_out: list[str] = []
    sent = 0
    while not walk.done:
        requests = walk.due()
        assert requests, "a walk that is not done must always have a request to send"
        for request in requests:
            sent += 1
            assert sent <= max_requests, "the walk did not end"
            outcome = functools.partial(parse, server, request.params)
            handed_out += [contact["uuid"] for contact in walk.answer(request, outcome)]
    return handed_out


def parse(server: Server, params: Mapping[str, str]) -> ContactPage:
    return ContactPage.parse(server(params))


def static_list(count: int, size: int, *, pages: Any = "true", cap: int | None = None) -> Server:
    """A list that never moves; ``pages`` overrides ``meta.pages`` ("true" tells the truth)."""
    uuids = [f"c{n:04d}" for n in range(count)]

    def server(params: Mapping[str, str]) -> dict[str, Any]:
        if "after" in params:
            start = int(params["after"])
        else:
            number = int(params["page"])
            if cap is not None and number > cap:
                raise CallbellPaginationLimitError("HTTP 400: Pagination limit exceeded", status=400)
            start = (number - 1) * size
        chunk = uuids[start : start + size]
        more = start + size < count
        true_pages = -(-count // size)
        meta = {
            "pages": true_pages if pages == "true" else pages,
            "next": str(start + size) if more else None,
        }
        return {"contacts": [{"uuid": uuid} for uuid in chunk], "meta": meta}

    return server


def test_page_parse_tolerates_odd_meta() -> None:
    page = ContactPage.parse({"contacts": [{"uuid": "a"}], "meta": {"pages": "3", "next": ""}})

    assert page == ContactPage(contacts=[{"uuid": "a"}], pages=None, next_cursor=None, has_cursor=True)


@pytest.mark.parametrize("document", [None, [], {"contact": []}, {"contacts": {"uuid": "a"}}])
def test_page_without_contact_list_is_invalid(document: object) -> None:
    with pytest.raises(CallbellInvalidResponseError, match="without a 'contacts' list"):
        ContactPage.parse(document)


@pytest.mark.parametrize("item", ["a", 3, None, ["uuid", "a"]])
def test_items_that_are_not_objects_are_invalid(item: object) -> None:
    with pytest.raises(CallbellInvalidResponseError, match=r"not a JSON object \(item 2 of the page"):
        ContactPage.parse({"contacts": [{"uuid": "a"}, item]})


@pytest.mark.parametrize(
    "contact",
    [{"name": "x"}, {"uuid": ""}, {"uuid": 7}, {"uuid": None}, {"uuid": "../auth"}, {"uuid": "None"}],
)
def test_contacts_without_uuid_are_invalid(contact: dict[str, Any]) -> None:
    with pytest.raises(
        CallbellInvalidResponseError,
        match=r"listed a contact \(item 1 of the page\) without a uuid that is a Callbell identifier",
    ):
        ContactPage.parse({"contacts": [contact]})


@pytest.mark.parametrize("cursor", [12345, True, ["c"], {"a": 1}], ids=repr)
def test_a_cursor_that_is_not_text_is_invalid_not_the_end(cursor: Any) -> None:
    page = {"contacts": [{"uuid": "c1"}], "meta": {"pages": 3, "next": cursor}}
    with pytest.raises(CallbellInvalidResponseError, match=r"meta\.next that is neither a cursor"):
        ContactPage.parse(page)


def test_a_null_cursor_is_the_end() -> None:
    page = ContactPage.parse({"contacts": [{"uuid": "c1"}], "meta": {"next": None}})
    assert (page.next_cursor, page.has_cursor) == (None, True)


def test_filters_travel_with_every_request() -> None:
    sent: list[dict[str, str]] = []
    inner = static_list(30, 10)

    def server(params: Mapping[str, str]) -> dict[str, Any]:
        sent.append(dict(params))
        return inner(params)

    run(server, filters=ContactFilters.of(source="whatsapp", tags=["lead", " VIP "]))

    assert {"page": "1", "source": "whatsapp", "tags": "lead,VIP"} in sent
    assert {"after": "10", "source": "whatsapp", "tags": "lead,VIP"} in sent
    assert all(params["source"] == "whatsapp" and params["tags"] == "lead,VIP" for params in sent)


@pytest.mark.parametrize("concurrency", [1, 3, 16])
@pytest.mark.parametrize("pages", ["true", 0, -4, 1, 2, 10**9, None])
def test_wrong_page_counts_still_give_every_contact_once(concurrency: int, pages: Any) -> None:
    assert run(static_list(95, 10, pages=pages), concurrency=concurrency) == [f"c{n:04d}" for n in range(95)]


def test_zero_pages_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    run(static_list(25, 10, pages=0))

    assert "said the contact list has 0 pages; ignoring that" in caplog.text


@pytest.mark.parametrize("cap", [1, 2, 5])
def test_lanes_refused_by_the_page_cap_leave_their_stretch_to_the_lane_before(cap: int) -> None:
    assert run(static_list(200, 10, cap=cap), concurrency=8) == [f"c{n:04d}" for n in range(200)]


def cursor_server(cursors: Callable[[str | None], tuple[list[str], str | None]]) -> Server:
    """A server whose pages and next cursors come from ``cursors(after)``."""

    def server(params: Mapping[str, str]) -> dict[str, Any]:
        uuids, following = cursors(params.get("after"))
        return {"contacts": [{"uuid": uuid} for uuid in uuids], "meta": {"next": following}}

    return server


def test_a_cursor_that_does_not_move_is_an_error() -> None:
    server = cursor_server(lambda after: (["a"], "c1") if after is None else ([f"x{after}"], "c1"))

    with pytest.raises(CallbellInvalidResponseError, match="offered a cursor it had offered before"):
        run(server, max_requests=5)


def test_cursors_in_a_circle_are_an_error() -> None:
    circle = {None: "A", "A": "B", "B": "A"}
    server = cursor_server(lambda after: ([f"u{after}"], circle[after]))

    with pytest.raises(CallbellInvalidResponseError, match="offered a cursor it had offered before"):
        run(server, max_requests=5)


@pytest.mark.parametrize("page", [[], ["a", "b"]], ids=["empty", "already-seen"])
def test_pages_with_nothing_new_that_keep_offering_cursors_are_an_error(page: list[str]) -> None:
    server = cursor_server(
        lambda after: (["a", "b"], "c0") if after is None else (page, f"c{int(after[1:]) + 1}")
    )

    with pytest.raises(CallbellInvalidResponseError, match="3 pages in a row with no contact"):
        run(server, max_requests=10)


def test_one_empty_page_with_a_cursor_is_harmless() -> None:
    pages = {None: (["a"], "c1"), "c1": ([], "c2"), "c2": (["b"], None)}

    assert run(cursor_server(lambda after: pages[after])) == ["a", "b"]


def test_page_numbers_that_repeat_the_same_page_for_ever_are_an_error() -> None:
    def server(params: Mapping[str, str]) -> dict[str, Any]:
        return {"contacts": [{"uuid": "a"}, {"uuid": "b"}]}

    with pytest.raises(CallbellInvalidResponseError, match="3 pages in a row"):
        run(server, max_requests=10)


def test_page_numbers_refused_without_a_cursor_say_how_to_narrow() -> None:
    def server(params: Mapping[str, str]) -> dict[str, Any]:
        if params["page"] != "1":
            raise CallbellPaginationLimitError("HTTP 400: Pagination limit exceeded", status=400)
        return {"contacts": [{"uuid": "a"}], "meta": {"pages": 3}}

    with pytest.raises(CallbellPaginationLimitError, match=r"refused page 2.*no cursor.*filters"):
        run(server)


class MovingList:
    """A keyset list, most recent first, that moves between the requests as a script says."""

    def __init__(self, count: int, size: int, script: Mapping[int, Callable[[MovingList], None]]) -> None:
        self.seqs = {f"c{n:02d}": count - n for n in range(count)}
        self.size, self.script, self.requests = size, script, 0

    def move_to_top(self, *uuids: str) -> None:
        for uuid in uuids:
            self.seqs[uuid] = max(self.seqs.values()) + 1

    def __call__(self, params: Mapping[str, str]) -> dict[str, Any]:
        self.requests += 1
        if (step := self.script.get(self.requests)) is not None:
            step(self)
        order = sorted(self.seqs, key=self.seqs.__getitem__, reverse=True)
        if "after" in params:
            order = [uuid for uuid in order if self.seqs[uuid] < int(params["after"])]
        else:
            order = order[(int(params["page"]) - 1) * self.size :]
        chunk = order[: self.size]
        following = str(self.seqs[chunk[-1]]) if len(order) > self.size else None
        return {"contacts": [{"uuid": uuid} for uuid in chunk], "meta": {"next": following}}


def test_a_contact_deleted_above_while_a_look_reads_on_hides_no_moved_contact() -> None:
    """The walk reads c00-c14 while c29..c15 move to the top; its last look reads them, and c15
    is deleted between its second and third page: read by page number, the third page would
    begin at c26, and c25 would sit, unread, below contacts every later look has seen."""
    script = {2: lambda moving: moving.move_to_top(*(f"c{n}" for n in range(29, 14, -1)))}
    script[6] = lambda moving: moving.seqs.pop("c15")
    moving = MovingList(30, 5, script)

    walked = run(moving)

    assert sorted(walked) == [f"c{n:02d}" for n in range(30)]  # c15 too: the look read it before
    assert moving.requests > 6, "the script ran to its deletion"
