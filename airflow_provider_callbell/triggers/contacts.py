"""Triggers watching Callbell for new leads, on the triggerer's event loop.

- :class:`CallbellNewLeadsTrigger` carries a deferred :class:`CallbellNewLeadsSensor`.
- :class:`CallbellNewLeadsEventTrigger` (Airflow 3 only) schedules DAGs on new leads through an
  ``AssetWatcher``, with no sensor task at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_callbell.api.filters import ContactFilters
from airflow_provider_callbell.api.leads import DEFAULT_LEAD_FIELDS, LeadWatch
from airflow_provider_callbell.api.selection import ContactSelection, created_at, parse_moment
from airflow_provider_callbell.arguments import (
    MAX_POLL_INTERVAL,
    conn_id,
    contact_uuid,
    optional_whole_number,
    seconds,
    whole_number,
)
from airflow_provider_callbell.connection import DEFAULT_CONN_ID
from airflow_provider_callbell.exceptions import CallbellError, CallbellTransientError
from airflow_provider_callbell.hooks.callbell_async import CallbellAsyncHook

if TYPE_CHECKING:
    from airflow_provider_callbell.api.selection import Contact

_MODULE = __name__


class _LeadSource:
    """The filters of a watch, and how to read the contacts they match."""

    def __init__(
        self,
        callbell_conn_id: str,
        tags: Sequence[str] | None,
        tags_match: str,
        source: str | None,
        team_uuid: str | None,
        *,
        fields: Sequence[str] | None,
    ) -> None:
        self.filters = ContactFilters.of(source=source, tags=tags, team_uuid=team_uuid)
        self.selection = ContactSelection.of(tags=tags, tags_match=tags_match, fields=fields)
        self.kwargs: dict[str, Any] = {
            "callbell_conn_id": conn_id(callbell_conn_id, "callbell_conn_id"),
            "tags": list(self.filters.tags) or None,
            "tags_match": self.selection.tags_match,
            "source": self.filters.source,
            "team_uuid": self.filters.team_uuid,
            "fields": None if self.selection.fields is None else list(self.selection.fields),
        }

    def contacts(self, hook: CallbellAsyncHook) -> AsyncIterator[Contact]:
        return hook.iter_contacts(self.filters)


class CallbellNewLeadsTrigger(BaseTrigger):
    """
    Poll Callbell until at least ``min_leads`` new leads appear, then return them.

    :param callbell_conn_id: the ``callbell`` connection (read by the triggerer; no token here).
    :param tags: the lead tags.
    :param tags_match: ``any`` or ``all``.
    :param source: only contacts of this integration.
    :param team_uuid: only contacts of this team inbox.
    :param since: ISO 8601 moment: contacts created at or after it are new.
    :param baseline: uuids of the contacts that matched when the sensor first looked.
    :param min_leads: how many new leads to wait for.
    :param poll_interval: seconds between two looks.
    :param max_leads: collect at most one more than this (the sensor fails above it); ``None``
        for no limit.
    :param fields: the keys of each lead the event carries (it ends in the triggerer's log);
        ``None`` for whole contacts.
    :param timeout_at: ISO 8601 moment after which the trigger gives up with a ``timeout``
        event; the sensor's own deadline, kept even where nothing else enforces it.
    """

    def __init__(
        self,
        *,
        callbell_conn_id: str = DEFAULT_CONN_ID,
        tags: Sequence[str] | None = ("lead",),
        tags_match: str = "any",
        source: str | None = None,
        team_uuid: str | None = None,
        since: Any,
        baseline: Sequence[str],
        min_leads: int = 1,
        poll_interval: float = 60.0,
        max_leads: int | None = 1000,
        timeout_at: str | None = None,
        fields: Sequence[str] | None = DEFAULT_LEAD_FIELDS,
    ) -> None:
        super().__init__()
        self._source = _LeadSource(callbell_conn_id, tags, tags_match, source, team_uuid, fields=fields)
        self.since = _moment(since, "since")
        if not isinstance(baseline, list | tuple | set) or not all(isinstance(u, str) for u in baseline):
            raise ValueError(f"baseline must be a list of contact uuids, got {type(baseline).__name__}")
        checked = [contact_uuid(uuid, "baseline") for uuid in baseline]
        if checked != list(baseline) or len(set(checked)) != len(checked):
            raise ValueError("baseline must hold contact uuids as Callbell writes them, each once")
        self.baseline = sorted(checked)
        self.min_leads = whole_number(min_leads, "min_leads")
        self.poll_interval = seconds(poll_interval, "poll_interval", 0.001, MAX_POLL_INTERVAL)
        self.max_leads = optional_whole_number(max_leads, "max_leads")
        if self.max_leads is not None and self.min_leads > self.max_leads:
            raise ValueError(
                f"min_leads={self.min_leads} is more than max_leads={self.max_leads}: the trigger "
                "stops collecting past max_leads, so it would never have enough"
            )
        self.timeout_at = None if timeout_at is None else _moment(timeout_at, "timeout_at")

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and the JSON-able arguments that rebuild this trigger."""
        return f"{_MODULE}.{type(self).__name__}", {
            **self._source.kwargs,
            "since": self.since,
            "baseline": self.baseline,
            "min_leads": self.min_leads,
            "poll_interval": self.poll_interval,
            "max_leads": self.max_leads,
            "timeout_at": self.timeout_at,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Look every ``poll_interval`` seconds; fire once with the new leads, or with the error."""
        watch = LeadWatch.from_state(self._source.selection, {"since": self.since, "baseline": self.baseline})
        deadline = datetime.fromisoformat(self.timeout_at) if self.timeout_at else None
        hook = CallbellAsyncHook(self._source.kwargs["callbell_conn_id"])
        try:
            while True:
                leads = await self._new_leads(hook, watch)
                if len(leads) >= self.min_leads:
                    yield TriggerEvent({"status": "success", "leads": leads})
                    return
                self.log.info("%d new leads so far, %d wanted", len(leads), self.min_leads)
                if deadline and datetime.now(UTC) + timedelta(seconds=self.poll_interval) > deadline:
                    message = f"{len(leads)} new leads by {self.timeout_at}, {self.min_leads} wanted"
                    yield TriggerEvent({"status": "timeout", "message": message})
                    return
                await asyncio.sleep(self.poll_interval)
        except CallbellError as error:
            yield TriggerEvent({"status": "error", "message": str(error)})
        finally:
            await hook.aclose()

    async def _new_leads(self, hook: CallbellAsyncHook, watch: LeadWatch) -> list[Contact]:
        leads = []
        async for contact in self._source.contacts(hook):
            if watch.is_new_lead(contact):
                leads.append(self._source.selection.project(contact))
                if self.max_leads is not None and len(leads) > self.max_leads:
                    break
        return leads


def _moment(value: Any, name: str) -> str:
    """A moment as the ISO 8601 text the trigger serializes, timezone included."""
    moment = parse_moment(value, name)
    if moment is None:
        raise ValueError(f"{name} must be a datetime or an ISO 8601 string, got None")
    return moment.isoformat()


def _created_after(contact: Contact, moment: datetime) -> bool:
    return created_at(contact) > moment


if AIRFLOW_V_3_0_PLUS:
    from airflow.providers.common.compat.triggers import BaseEventTrigger

    class CallbellNewLeadsEventTrigger(BaseEventTrigger):
        """
        Emit an event whenever contacts start matching the lead tags: for ``AssetWatcher``.

        The first look remembers who matches; every later look emits one event per batch of
        contacts that match now and did not at the previous look (new contacts, and old ones
        newly tagged), with the contacts in the event's payload (the asset event's ``extra``).
        On Airflow 3.3 the uuids matching at the last look are kept in the asset state store,
        so after a triggerer restart the watch goes on where it stopped: leads that appeared
        meanwhile are reported, reported ones are not sent again. Without a state store
        (Airflow 3.0 to 3.2, ``dag.test()``) a restart starts a new watch, and leads that
        appeared while the triggerer was down are not reported.

        :param callbell_conn_id: the ``callbell`` connection.
        :param tags: the lead tags (default ``["lead"]``).
        :param tags_match: ``any`` or ``all``.
        :param source: only contacts of this integration.
        :param team_uuid: only contacts of this team inbox.
        :param poll_interval: seconds between two looks.
        :param max_leads_per_event: contacts in one event at most; more make more events.
        :param fields: the keys of each lead an event carries (events end in the triggerer's log
            and in the asset event); ``None`` for whole contacts.
        """

        STATE_KEY = "callbell_matching_uuids"

        def __init__(
            self,
            *,
            callbell_conn_id: str = DEFAULT_CONN_ID,
            tags: Sequence[str] | None = ("lead",),
            tags_match: str = "any",
            source: str | None = None,
            team_uuid: str | None = None,
            poll_interval: float = 60.0,
            max_leads_per_event: int = 100,
            fields: Sequence[str] | None = DEFAULT_LEAD_FIELDS,
        ) -> None:
            super().__init__()
            self._source = _LeadSource(callbell_conn_id, tags, tags_match, source, team_uuid, fields=fields)
            self.poll_interval = seconds(poll_interval, "poll_interval", 0.001, MAX_POLL_INTERVAL)
            self.max_leads_per_event = whole_number(max_leads_per_event, "max_leads_per_event")

        def serialize(self) -> tuple[str, dict[str, Any]]:
            """The class path and arguments; deterministic, since they identify the watcher."""
            return f"{_MODULE}.{type(self).__name__}", {
                **self._source.kwargs,
                "poll_interval": self.poll_interval,
                "max_leads_per_event": self.max_leads_per_event,
            }

        async def run(self) -> AsyncIterator[TriggerEvent]:
            """Look every ``poll_interval`` seconds, for as long as the watcher lives."""
            hook = CallbellAsyncHook(self._source.kwargs["callbell_conn_id"])
            matching = await self._load()
            try:
                while True:
                    try:
                        current, fresh = await self._look(hook, matching)
                    except CallbellTransientError as error:
                        self.log.warning("Looking for new leads failed, trying again later: %s", error)
                    else:
                        if matching is None:
                            self.log.info("Watching %d leads; reporting new ones from now on", len(current))
                        size = self.max_leads_per_event
                        for start in range(0, len(fresh), size):
                            yield TriggerEvent({"leads": fresh[start : start + size]})
                        matching = current
                        await self._save(matching)
                    await asyncio.sleep(self.poll_interval)
            finally:
                await hook.aclose()

        async def _look(
            self, hook: CallbellAsyncHook, matching: set[str] | None
        ) -> tuple[set[str], list[Contact]]:
            """Who matches now, and who of them did not at the previous look.

            The first look only remembers who matches, but not the contacts created after it
            began: the next look reports those.
            """
            began = datetime.now(UTC)
            current, fresh = set(), []
            async for contact in self._source.contacts(hook):
                if not self._source.selection.matches(contact):
                    continue
                uuid = contact["uuid"]
                if matching is not None and uuid not in matching:
                    fresh.append(self._source.selection.project(contact))
                    current.add(uuid)
                elif matching is not None or not _created_after(contact, began):
                    current.add(uuid)
            return current, fresh

        async def _load(self) -> set[str] | None:
            store = getattr(self, "asset_state_store", None)
            saved = await store.aget(self.STATE_KEY, None) if store is not None else None
            return set(saved) if isinstance(saved, list) else None

        async def _save(self, matching: set[str]) -> None:
            store = getattr(self, "asset_state_store", None)
            if store is not None:
                await store.aset(self.STATE_KEY, sorted(matching))


else:

    def __getattr__(name: str) -> Any:
        if name == "CallbellNewLeadsEventTrigger":
            raise ImportError(
                "CallbellNewLeadsEventTrigger needs Airflow 3: event-driven scheduling (AssetWatcher) "
                "does not exist on Airflow 2. Use CallbellNewLeadsSensor to wait for new leads instead."
            )
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
