"""What makes a contact a *new* lead, shared by the sensor and the triggers.

A contact is a new lead when it matches the tag filter now and either was created at or
after ``since``, or did not match when the watch began: a contact tagged ``lead`` an hour
after it first wrote is caught, a lead that already existed is not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow_provider_callbell.api.selection import Contact, ContactSelection, created_at

#: What a reported lead carries unless the user asks for more: enough to find the contact
#: (``hook.get_contact(uuid)``), no name or phone number, since events and XComs end in logs.
DEFAULT_LEAD_FIELDS = ("uuid", "tags", "source", "createdAt")


@dataclass(frozen=True)
class LeadWatch:
    """A watch for new leads: the tag filter, ``since``, and who matched when it began.

    :param selection: the tag filter (``tags``, ``tags_match``).
    :param since: contacts created at or after this moment are new.
    :param baseline: uuids of the contacts that matched when the watch began.
    """

    selection: ContactSelection
    since: datetime
    baseline: frozenset[str]

    @classmethod
    def begin(
        cls, selection: ContactSelection, since: datetime, contacts: Iterable[Contact]
    ) -> tuple[LeadWatch, list[Contact]]:
        """Start watching: remember who matches now; return the watch and the leads already new."""
        baseline, fresh = set(), []
        for contact in contacts:
            if selection.matches(contact):
                baseline.add(str(contact.get("uuid")))
                if _created_since(contact, since):
                    fresh.append(contact)
        return cls(selection, since, frozenset(baseline)), fresh

    def new_leads(self, contacts: Iterable[Contact]) -> list[Contact]:
        """The new leads among ``contacts``, in their order."""
        return [contact for contact in contacts if self.is_new_lead(contact)]

    def is_new_lead(self, contact: Contact) -> bool:
        """Whether ``contact`` is a new lead."""
        if not self.selection.matches(contact):
            return False
        return _created_since(contact, self.since) or str(contact.get("uuid")) not in self.baseline

    def to_state(self) -> dict[str, Any]:
        """What must survive reschedules and the hand-off to the triggerer: uuids, not contacts."""
        return {"since": self.since.isoformat(), "baseline": sorted(self.baseline)}

    @classmethod
    def from_state(cls, selection: ContactSelection, state: dict[str, Any]) -> LeadWatch:
        """The watch :meth:`to_state` described."""
        return cls(selection, datetime.fromisoformat(state["since"]), frozenset(state["baseline"]))


def _created_since(contact: Contact, since: datetime) -> bool:
    return created_at(contact) >= since
