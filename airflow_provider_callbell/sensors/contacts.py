"""CallbellNewLeadsSensor: wait for new contacts carrying given tags."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from airflow_provider_callbell.api.filters import ContactFilters, TagsArg
from airflow_provider_callbell.api.leads import DEFAULT_LEAD_FIELDS
from airflow_provider_callbell.api.selection import ContactSelection, parse_moment
from airflow_provider_callbell.arguments import (
    DEFAULT_MAX_XCOM_CONTACTS,
    MAX_POLL_INTERVAL,
    choice,
    conn_id,
    flag,
    is_template,
    known_now,
    named_for,
    optional_whole_number,
    seconds,
    whole_number,
)
from airflow_provider_callbell.connection import DEFAULT_CONN_ID

#: The longest a deferred sensor waits: a century, far past any run, short of date overflows.
MAX_DEFERRED_TIMEOUT = 100 * 365 * 86_400.0

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_callbell.api.selection import Contact


#: BaseSensorOperator's arguments that Airflow reads loosely (``True`` as 1 s, ``'no'`` as true,
#: ``inf`` as an overflow deep inside): read here by this provider's rules, before Airflow sees them.
_DURATIONS = {
    "poke_interval": MAX_POLL_INTERVAL,
    "timeout": MAX_DEFERRED_TIMEOUT,
    "max_wait": MAX_POLL_INTERVAL,
}
_FLAGS = ("exponential_backoff", "soft_fail", "silent_fail", "never_fail")


def _sensor_arguments(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments, and the ``default_args`` (the DAG's merged in) Airflow fills them from later."""
    checked = _checked(kwargs)
    if isinstance(kwargs.get("default_args"), Mapping):
        checked["default_args"] = _checked(kwargs["default_args"])
    given = {**checked.get("default_args", {}), **checked}
    if given.get("max_wait") is not None and given.get("exponential_backoff") is not True:
        raise ValueError("max_wait needs exponential_backoff=True: without it Airflow ignores max_wait")
    return checked


def _checked(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    checked = dict(kwargs)
    for name, maximum in _DURATIONS.items():
        if checked.get(name) is not None:
            checked[name] = seconds(checked[name], name, 0.001, maximum)
    for name in _FLAGS:
        if name in checked:
            checked[name] = flag(checked[name], name)
    if "mode" in checked:
        choice(checked["mode"], "mode", ("poke", "reschedule"))
    return checked


class CallbellNewLeadsSensor(BaseSensorOperator):
    """
    Wait until new leads appear in Callbell: contacts carrying the given tags that are new.

    A contact is a **new lead** when it matches the tag filter and either was created at or
    after ``since``, or did not match the filter when the sensor first looked: a contact tagged
    ``lead`` an hour after it first wrote is caught; leads that existed before are never
    reported. Once at least ``min_leads`` new leads are seen, the sensor succeeds and returns
    them (each once, with the keys in ``fields``) as its XCom.

    Works in ``poke``, ``reschedule`` and deferrable modes alike. What it remembers between
    looks is the uuids that matched when it began: kept in the task state store on Airflow 3.3,
    in an Airflow Variable named after the task instance on older versions, handed to the
    trigger in deferrable mode, and dropped when the sensor finishes.

    :param callbell_conn_id: the ``callbell`` connection.
    :param tags: the lead tags: a list or a comma-separated string, matched
        case-insensitively (default ``["lead"]``). (templated)
    :param tags_match: ``any`` (default): at least one of ``tags``; ``all``: every one of them.
    :param source: only contacts of this integration, e.g. ``whatsapp``. (templated)
    :param team_uuid: only contacts of this team inbox. (templated)
    :param since: contacts created at or after this moment are new: a datetime or ISO 8601
        string; by default the run's data interval start, or the moment the sensor first looked
        when the run has none. (templated)
    :param min_leads: how many new leads to wait for (default 1). (templated)
    :param max_xcom_contacts: fail rather than return more new leads than this through XCom;
        ``None`` for no limit.
    :param fields: the keys of each lead returned (and, when deferred, carried by the trigger's
        event, which the triggerer logs): by default ``uuid``, ``tags``, ``source`` and
        ``createdAt``, no name or phone number; ``None`` for whole contacts. (templated)
    :param deferrable: hand the waiting to the triggerer (default: ``[operators]
        default_deferrable``).
    """

    template_fields: Sequence[str] = ("tags", "source", "team_uuid", "since", "min_leads", "fields")
    ui_color = "#e3f4ec"

    def __init__(
        self,
        *,
        callbell_conn_id: str = DEFAULT_CONN_ID,
        tags: TagsArg = ("lead",),
        tags_match: str = "any",
        source: str | None = None,
        team_uuid: str | None = None,
        since: Any = None,
        min_leads: int | str = 1,
        max_xcom_contacts: int | None = DEFAULT_MAX_XCOM_CONTACTS,
        fields: str | Sequence[str] | None = DEFAULT_LEAD_FIELDS,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        with named_for(self, kwargs.get("task_id")):
            kwargs = _sensor_arguments(kwargs)
        super().__init__(**kwargs)
        self.callbell_conn_id = callbell_conn_id
        self.tags = list(tags) if isinstance(tags, tuple) else tags
        self.tags_match = tags_match
        self.source = source
        self.team_uuid = team_uuid
        self.since = since
        self.min_leads = min_leads
        self.fields = list(fields) if isinstance(fields, tuple) else fields
        with named_for(self):
            conn_id(callbell_conn_id, "callbell_conn_id")
            self.max_xcom_contacts = optional_whole_number(max_xcom_contacts, "max_xcom_contacts")
            self.deferrable = flag(deferrable, "deferrable")
        if self.deferrable and self.mode == "reschedule":
            self.log.warning(
                "%s %r: deferrable=True waits in the triggerer, so mode='reschedule' has no effect",
                type(self).__name__,
                self.task_id,
            )
        self._check(resolve=known_now)

    def _check(
        self, resolve: Callable[[Any], Any] = lambda given: given
    ) -> tuple[ContactFilters, ContactSelection]:
        """Validate the arguments, those known now (``resolve=known_now``) or all of them."""
        with named_for(self):
            filters = ContactFilters.of(
                source=resolve(self.source), tags=resolve(self.tags), team_uuid=resolve(self.team_uuid)
            )
            selection = ContactSelection.of(
                tags=resolve(self.tags), tags_match=self.tags_match, fields=resolve(self.fields)
            )
            parse_moment(resolve(self.since), "since")
            min_leads = resolve(self.min_leads)
            if min_leads is not None or not is_template(self.min_leads):
                wanted = whole_number(min_leads, "min_leads")
                if self.max_xcom_contacts is not None and wanted > self.max_xcom_contacts:
                    raise ValueError(
                        f"min_leads={wanted} is more than max_xcom_contacts={self.max_xcom_contacts}: "
                        "the sensor would fail the moment it had them; raise max_xcom_contacts or "
                        "set it to None"
                    )
        return filters, selection

    def poke(self, context: Context) -> PokeReturnValue:
        """Look once: on the first look remember who matches, later report who is new."""
        from airflow_provider_callbell.api.leads import LeadWatch
        from airflow_provider_callbell.hooks.callbell import CallbellHook
        from airflow_provider_callbell.sensors.state import WatchState

        filters, selection = self._check()
        state = WatchState(context)
        saved = state.load()
        hook = CallbellHook(callbell_conn_id=self.callbell_conn_id)
        contacts = hook.iter_contacts(filters)
        with contextlib.closing(contacts), contextlib.closing(hook):
            if saved is None:
                watch, leads = LeadWatch.begin(selection, self._since(context), contacts)
                state.save(watch.to_state())
                self.log.info(
                    "Watching for new leads since %s; %d leads exist", watch.since, len(watch.baseline)
                )
            else:
                watch = LeadWatch.from_state(selection, saved)
                leads = watch.new_leads(contacts)
        self.log.info("%d new leads so far, %d wanted", len(leads), self._min_leads)
        if len(leads) < self._min_leads:
            return PokeReturnValue(is_done=False)
        state.clear()
        return PokeReturnValue(is_done=True, xcom_value=self._bounded([selection.project(c) for c in leads]))

    def execute(self, context: Context) -> Any:
        """In deferrable mode look once here, then let the triggerer watch."""
        if not self.deferrable:
            return super().execute(context)
        from airflow_provider_callbell.sensors.state import WatchState
        from airflow_provider_callbell.triggers.contacts import CallbellNewLeadsTrigger

        first_look = self.poke(context)
        if first_look.is_done:
            return first_look.xcom_value
        saved = WatchState(context).load() or {}
        filters, selection = self._check()
        trigger = CallbellNewLeadsTrigger(
            callbell_conn_id=self.callbell_conn_id,
            tags=list(filters.tags) or None,
            tags_match=selection.tags_match,
            source=filters.source,
            team_uuid=filters.team_uuid,
            since=saved["since"],
            baseline=saved["baseline"],
            min_leads=self._min_leads,
            poll_interval=float(self.poke_interval),
            max_leads=self.max_xcom_contacts,
            fields=selection.fields,
            timeout_at=(datetime.now(UTC) + timedelta(seconds=self.timeout)).isoformat(),
        )
        self.defer(trigger=trigger, method_name="execute_complete", timeout=timedelta(seconds=self.timeout))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Resume after the trigger fired: return its new leads, or fail with its error."""
        from airflow_provider_callbell.exceptions import CallbellError
        from airflow_provider_callbell.sensors.state import WatchState

        event = event or {}
        status, message = event.get("status"), event.get("message", "the trigger ended without an event")
        if status == "timeout":
            WatchState(context).clear()
            if self.soft_fail:
                raise AirflowSkipException(f"Sensor timed out, skipping (soft_fail): {message}")
            raise AirflowSensorTimeout(f"Sensor timed out: {message}")
        if status != "success":
            raise CallbellError(f"Watching for new Callbell leads failed: {message}")
        WatchState(context).clear()
        return self._bounded(event["leads"])

    @property
    def _min_leads(self) -> int:
        return whole_number(self.min_leads, "min_leads")

    def _since(self, context: Context) -> datetime:
        since = parse_moment(self.since, "since") or context.get("data_interval_start")
        return since or datetime.now(UTC)

    def _bounded(self, leads: list[Contact]) -> list[Contact]:
        if self.max_xcom_contacts is not None and len(leads) > self.max_xcom_contacts:
            raise AirflowFailException(
                f"More than max_xcom_contacts={self.max_xcom_contacts} new leads, and XCom lives in "
                "Airflow's metadata database: narrow tags, source or team_uuid, or raise max_xcom_contacts."
            )
        return leads
