"""The walk over ``GET /contacts`` that hands out every contact once while the list moves.

The walk does no I/O. A driver (the sync hook's thread pool, the async hook's tasks) sends
the requests :meth:`ContactWalk.due` returns and hands each outcome to
:meth:`ContactWalk.answer`, which returns the contacts to pass on. Exactness is decided here
once, for both drivers.

How it reads a list that moves (most recent conversation first; see the README):

- **Lanes.** Page 1 says how many pages there are. The list is cut into ``concurrency``
  stretches, each started by a page number and read on with the cursor (``meta.next``), one
  page at a time, so lanes run side by side. A lane ends where it meets a contact the next
  lane handed out: a cursor never skips a contact that stays in place, so together the lanes
  cover every contact that stayed in place, whatever shifts page numbers in between.
- **The top.** A contact that moves to the top (a message) before its lane reaches it, or a
  new contact, is at the top of the list; :class:`HeadWatch` looks there while the lanes run
  and when they are done, reading page 1 and on by cursor. What it finds that was not handed
  out yet goes out at once, and the lanes skip it if they meet it later.
- **Servers without cursors** are read one page number after the other, repeats dropped;
  there a deletion above the page being read can still hide a contact.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_provider_callbell.api.head import MAX_LOOK_PAGES, HeadWatch
from airflow_provider_callbell.api.seen import SeenContacts
from airflow_provider_callbell.arguments import MAX_CONCURRENCY, whole_number
from airflow_provider_callbell.exceptions import CallbellInvalidResponseError, CallbellPaginationLimitError

if TYPE_CHECKING:
    from airflow_provider_callbell.api.filters import ContactFilters
    from airflow_provider_callbell.api.logs import Log
    from airflow_provider_callbell.api.pagination import Contact, ContactPage

#: Callbell refuses page numbers past 500 ([docs, newer]); lanes start within them.
PAGE_NUMBER_LIMIT = 500
#: Pages a lane is meant to read at least.
MIN_LANE_PAGES = 2
#: Pages in a row without a contact new to the walk that make a server misbehaving.
MAX_STALE_PAGES = 3
#: Contacts a lane may hold back while an earlier lane is still reading.
MAX_HELD_CONTACTS = 5_000
#: Cursors a lane remembers to recognise a server sending it round in circles.
RECENT_CURSORS = 8

HEAD = -1


@dataclass(frozen=True)
class PageRequest:
    """A request of the walk: which lane (or :data:`HEAD`) asks, and its query parameters."""

    lane: int
    params: Mapping[str, str]
    page: int | None = None


@dataclass
class _Lane:
    """A stretch of the list: starts at a page number, reads on by cursor or page number."""

    index: int
    next_page: int | None
    cursor: str | None = None
    started: bool = False
    done: bool = False
    busy: bool = False
    held: list[Contact] = field(default_factory=list)
    recent_cursors: deque[str] = field(default_factory=lambda: deque(maxlen=RECENT_CURSORS))
    stale_pages: int = 0


class ContactWalk:
    """Every contact matching ``filters``, each once, read ``concurrency`` requests at a time.

    :param filters: the server-side filters, sent with every request.
    :param concurrency: requests under way at once, and lanes at most.
    :param log: where warnings about the server go.
    :param clock: monotonic seconds.
    :param head_interval: seconds between two looks at the top of the list.
    """

    def __init__(
        self,
        filters: ContactFilters,
        *,
        concurrency: int,
        log: Log,
        clock: Callable[[], float],
        head_interval: float = 0.5,
    ) -> None:
        self.filters = filters
        self._query = filters.query_params()
        self.concurrency = whole_number(concurrency, "concurrency", maximum=MAX_CONCURRENCY)
        self._log = log
        self._clock = clock
        self._lanes = [_Lane(0, next_page=1)]
        self._by_cursor = False
        self._seen = SeenContacts()
        self._head = HeadWatch(head_interval)
        self._head_cursor: str | None = None
        self._warned = False
        self._found_at_top: list[Contact] = []
        self._released = 0
        self._in_flight = 0
        self._page_size: int | None = None
        self._pages: int | None = None
        self.pages_read = 0
        self.contacts_read = 0

    @property
    def done(self) -> bool:
        """Whether every contact has been handed out."""
        return self._head.done

    def due(self) -> list[PageRequest]:
        """The requests to send now; each must come back through :meth:`answer`."""
        requests = []
        while self._in_flight < self.concurrency and (request := self._next_request()) is not None:
            self._in_flight += 1
            requests.append(request)
        return requests

    def wait_time(self) -> float | None:
        """Seconds a driver may wait for answers before asking :meth:`due` again (None: any time)."""
        if self._in_flight >= self.concurrency or not self._lanes_running:
            return None
        return self._head.seconds_to_next(self._clock())

    def answer(self, request: PageRequest, outcome: Callable[[], ContactPage]) -> list[Contact]:
        """Take the outcome of ``request`` (a call returning its page or raising its error).

        :return: the contacts to pass on now.
        :raises CallbellError: what the request raised, or what the server did wrong.
        """
        self._in_flight -= 1
        try:
            page = outcome()
        except CallbellPaginationLimitError as error:
            self._refused(request, error)
            return self._release()
        self.pages_read += 1
        if self._page_size is None and page.contacts:
            self._page_size = len(page.contacts)
        if request.lane == HEAD:
            self._look(request, page)
        else:
            self._read(self._lanes[request.lane], request, page)
        return self._release()

    @property
    def _lanes_running(self) -> bool:
        return not all(lane.done for lane in self._lanes)

    def _next_request(self) -> PageRequest | None:
        head_page = self._head.next_page(self._clock(), final=not self._lanes_running)
        if head_page is not None:
            return self._head_request(head_page)
        for lane in self._lanes:
            if self._ready(lane):
                lane.busy = True
                if lane.started and self._by_cursor:
                    return PageRequest(lane.index, {**self._query, "after": lane.cursor or ""})
                return PageRequest(lane.index, {**self._query, "page": str(lane.next_page)}, lane.next_page)
        return None

    def _head_request(self, page: int) -> PageRequest:
        """A look reads page 1, then on by cursor where the server has them: a contact deleted
        above between two page numbers would shift one past the look, unseen by every later look."""
        if page > 1 and self._by_cursor:
            return PageRequest(HEAD, {**self._query, "after": self._head_cursor or ""})
        return PageRequest(HEAD, {**self._query, "page": str(page)}, page)

    def _ready(self, lane: _Lane) -> bool:
        if lane.busy or lane.done or len(lane.held) >= MAX_HELD_CONTACTS:
            return False
        # A lane reads past its first page once every later lane has its first page, so it
        # can tell where the next lane's contacts begin.
        return not lane.started or all(later.started for later in self._lanes[lane.index + 1 :])

    def _read(self, lane: _Lane, request: PageRequest, page: ContactPage) -> None:
        lane.busy = False
        first = not lane.started
        lane.started = True
        if lane.index == 0 and first:
            self._plan(page)
        elif first and not page.contacts:
            lane.done = True
            return
        fresh, met = self._take(lane, page)
        self._pages = page.pages if page.pages and page.pages > 0 else self._pages
        if met or self._at_end(lane, request, page):
            lane.done = True
            return
        self._check_progress(lane, request, page, fresh)

    def _take(self, lane: _Lane, page: ContactPage) -> tuple[int, bool]:
        """Hand out the page's new contacts until one the next lane has; (count, met it)."""
        fresh = 0
        alone = not any(not other.done for other in self._lanes if other is not lane)
        # Past the exact limit, a page whose first contact was handed out already is checked
        # against the digests: a server going round in circles over old pages is caught.
        repeated = alone and bool(page.contacts) and self._seen.lane_of(page.uuids[0]) is None
        repeated = repeated and page.uuids[0] in self._seen
        for contact in page.contacts:
            uuid = contact["uuid"]
            owner = self._seen.lane_of(uuid)
            if owner is not None and owner > lane.index:
                return fresh, True
            if owner is None and not (repeated and uuid in self._seen):
                self._seen.add(uuid, lane.index, alone=alone)
                lane.held.append(contact)
                fresh += 1
        return fresh, False

    def _at_end(self, lane: _Lane, request: PageRequest, page: ContactPage) -> bool:
        if self._by_cursor:
            return page.next_cursor is None
        if not page.contacts:
            return True
        lane.next_page = (request.page or 0) + 1
        return self._pages is not None and lane.next_page > self._pages

    def _check_progress(self, lane: _Lane, request: PageRequest, page: ContactPage, fresh: int) -> None:
        """Fail, rather than loop for ever, on a server that offers pages but nothing new."""
        if self._by_cursor:
            cursor = page.next_cursor or ""
            if cursor in lane.recent_cursors or cursor == request.params.get("after"):
                raise CallbellInvalidResponseError(
                    "Callbell offered a cursor it had offered before: following it would read the same "
                    "contacts again and again, so the walk stops here"
                )
            lane.recent_cursors.append(cursor)
            lane.cursor = cursor
        lane.stale_pages = 0 if fresh else lane.stale_pages + 1
        if lane.stale_pages >= MAX_STALE_PAGES:
            raise CallbellInvalidResponseError(
                f"Callbell answered {lane.stale_pages} pages in a row with no contact the walk had not "
                "read already, each offering yet another page: the walk stops rather than loop"
            )

    def _plan(self, page: ContactPage) -> None:
        """Cut the list into lanes, from what page 1 says."""
        self._head.begin(page.uuids, self._clock())
        if page.pages is not None and page.pages <= 0:
            self._log.warning("Callbell said the contact list has %s pages; ignoring that", page.pages)
        self._by_cursor = page.has_cursor
        if not self._by_cursor:
            return
        pages = page.pages if page.pages and page.pages > 0 else 1
        span = min(pages, PAGE_NUMBER_LIMIT)
        count = max(1, min(self.concurrency, span // MIN_LANE_PAGES))
        stride = math.ceil(span / count)
        self._lanes += [_Lane(index, next_page=1 + index * stride) for index in range(1, count)]

    def _refused(self, request: PageRequest, error: CallbellPaginationLimitError) -> None:
        if request.lane == HEAD:
            self._head.stop(self._clock())
            self._warn_if_overflowed()
            return
        lane = self._lanes[request.lane]
        if lane.index == 0:
            raise CallbellPaginationLimitError(
                f"Callbell refused page {request.page} of the contact list and offers no cursor to read "
                f"further ({error}). Narrow the walk with filters (source, tags, team_uuid).",
                status=error.status,
            ) from error
        # Deeper than Callbell lets page numbers go: the lane before reads this stretch too.
        lane.busy, lane.started, lane.done = False, True, True

    def _look(self, request: PageRequest, page: ContactPage) -> None:
        found = [contact for contact in page.contacts if contact["uuid"] not in self._seen]
        for contact in found:
            self._seen.add(contact["uuid"], HEAD, alone=False)
        self._found_at_top += found
        self._head_cursor = page.next_cursor
        last = (
            (self._by_cursor and page.next_cursor is None)
            or (self._page_size is not None and len(page.contacts) < self._page_size)
            or (self._pages is not None and (request.page or 0) >= self._pages)
        )
        self._head.accept(page.uuids, found=len(found), last_page=last, now=self._clock())
        self._warn_if_overflowed()

    def _warn_if_overflowed(self) -> None:
        if self._head.overflowed and not self._warned:
            self._warned = True
            self._log.warning(
                "The contact list changed faster than this walk could follow: a look at the top of the "
                "list read as deep as Callbell allows (%d pages at most) without reaching "
                "contacts that had not moved since the look before. Contacts that moved may be missing.",
                MAX_LOOK_PAGES,
            )

    def _release(self) -> list[Contact]:
        """A lane's contacts once every lane before it is done (list order); those found at the top."""
        released: list[Contact] = []
        while self._released < len(self._lanes):
            lane = self._lanes[self._released]
            released += lane.held
            lane.held = []
            if not lane.done:
                break
            self._released += 1
        released += self._found_at_top
        self._found_at_top = []
        self.contacts_read += len(released)
        return released
