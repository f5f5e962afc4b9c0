"""Looking at the top of the contact list while a walk runs.

Callbell lists contacts most recent conversation first: a contact that gets a message, and a
new contact, go to the top. A contact that moves there before the walk reaches its old place
is missed by the walk, whatever the server's cursor does. So the walk looks at the top every
``interval`` seconds, and when it is done, until a look finds nothing new, and takes the
contacts it finds there.

A look reads pages from the top (page 1, then by cursor where the server has them; see
:class:`ContactWalk`) until it reaches contacts that did not move since the previous look:
``run`` contacts that the previous look saw, in the order it saw them, with only contacts it
did not see between them (new ones, or in a filtered list, contacts tagged where they stand),
and between two of them at most one contact the previous look saw there that this look has not
read above (one deleted, or untagged, where it stood). Everything that moved in between sits
above them, so it was read. Order alone would not do: contacts that moved again since the
previous look, in any order, often hold five in their former order by chance, and a look ending
on them would miss what moved below them. The one thing a look cannot tell from uuids alone is
a stretch of contacts that all moved since the previous look in exactly their former order:
looking every ``interval`` seconds makes that need more than a page of moves in that time.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

#: Contacts in a row, unmoved since the previous look, that end a look.
RUN = 5
#: Pages one look reads at the most before it gives up telling what moved: Callbell's page-number
#: limit. A look reads as deep as the moves go (a 429's Retry-After can leave many pages of them
#: between two looks); in practice a look ends after a page or two.
MAX_LOOK_PAGES = 500
#: Looks at the end of a walk at the most, while each still finds contacts.
MAX_FINAL_LOOKS = 10


@dataclass
class _Look:
    """A look in progress: the uuids read so far and the run of unmoved ones at their end."""

    final: bool
    uuids: list[str] = field(default_factory=list)
    read: set[str] = field(default_factory=set)
    pages: int = 0
    found: int = 0
    run: int = 0
    last_position: int = -1


class HeadWatch:
    """Decides when to look at the top of the list, how deep, and when the walk may end.

    :param interval: seconds between the end of a look and the start of the next.
    :param run: unmoved contacts in a row that end a look.
    """

    def __init__(self, interval: float, *, run: int = RUN) -> None:
        self._interval = interval
        self._run = run
        self._previous: dict[str, int] = {}
        self._previous_order: list[str] = []
        self._look: _Look | None = None
        self._next_at = math.inf
        self._busy = False
        self._final_looks = 0
        self.done = False
        self.overflowed = False

    def begin(self, top: list[str], now: float) -> None:
        """The walk's first page is the first look."""
        self._remember(top)
        self._next_at = now + self._interval

    def next_page(self, now: float, *, final: bool) -> int | None:
        """The page to read now, if a look should start or go on; ``final`` once the walk is done."""
        if self._busy or self.done:
            return None
        if self._look is None:
            if not final and now < self._next_at:
                return None
            self._look = _Look(final)
        self._busy = True
        return self._look.pages + 1

    def seconds_to_next(self, now: float) -> float | None:
        """How long until the next look is due, when none is under way."""
        if self._look is not None or self.done or math.isinf(self._next_at):
            return None
        return max(0.0, self._next_at - now)

    def accept(self, uuids: list[str], *, found: int, last_page: bool, now: float) -> bool:
        """Take a page of the look, where the walk ``found`` contacts new to it; is the look over?"""
        self._busy = False
        look = self._look
        assert look is not None
        look.pages += 1
        look.found += found
        for uuid in uuids:
            self._extend(look, uuid)
        settled = look.run >= min(self._run, len(self._previous) or 1) or last_page or not uuids
        if not settled and look.pages < MAX_LOOK_PAGES:
            return False
        self.overflowed = self.overflowed or not settled
        self._remember(look.uuids)
        self._end(look, now)
        return True

    def _remember(self, uuids: list[str]) -> None:
        self._previous = {uuid: position for position, uuid in enumerate(uuids)}
        self._previous_order = uuids

    def stop(self, now: float) -> None:
        """End the look under way: its page was refused before the look reached unmoved contacts."""
        self._busy = False
        if self._look is not None:
            self.overflowed = True
            self._end(self._look, now)

    def _end(self, look: _Look, now: float) -> None:
        # A contact that moves again while a look reads below it escapes that look, and only
        # the next one sees it: the walk ends with a look that finds nothing new.
        self._look = None
        self._next_at = now + self._interval
        if look.final:
            self._final_looks += 1
            self.done = look.found == 0 or self._final_looks >= MAX_FINAL_LOOKS

    def _extend(self, look: _Look, uuid: str) -> None:
        look.uuids.append(uuid)
        look.read.add(uuid)
        position = self._previous.get(uuid)
        if position is None:
            # new since the previous look, or (in a filtered list) tagged where it stands
            return
        follows = look.run and position > look.last_position and self._explained(look, position)
        look.run = look.run + 1 if follows else 1
        look.last_position = position

    def _explained(self, look: _Look, position: int) -> bool:
        """Whether the contacts the previous look saw between the run's last one and ``position``
        were read above by this look (they moved), all but one at most (deleted where it stood)."""
        unread = 0
        for uuid in itertools.islice(self._previous_order, look.last_position + 1, position):
            unread += uuid not in look.read
            if unread > 1:
                return False
        return True
