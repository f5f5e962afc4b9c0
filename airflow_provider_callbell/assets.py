"""Reading what Callbell's event triggers put in asset events, for DAG authors on the asset side.

A deployed triggerer stores a trigger's payload under the asset event's ``extra["payload"]``
(``{"from_trigger": True, "payload": {...}}``); an asset event created another way may carry the
payload as its ``extra`` itself. :func:`leads_from_events` reads both, so DAGs never depend on
Airflow's layout.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Lead = dict[str, Any]


def leads_from_events(events: Iterable[Any] | Mapping[Any, Iterable[Any]]) -> list[Lead]:
    """The leads carried by ``CallbellNewLeadsEventTrigger`` asset events, each once, in order.

    :param events: a run's asset events: ``triggering_asset_events[asset]``, or the whole
        ``triggering_asset_events`` mapping (every asset's events); events are objects with an
        ``extra`` attribute or mappings with an ``"extra"`` key.
    """
    if isinstance(events, Mapping):
        events = [event for per_asset in events.values() for event in per_asset]
    leads: dict[str, Lead] = {}
    for event in events:
        for lead in _payload(event).get("leads") or ():
            if isinstance(lead, Mapping):
                leads.setdefault(str(lead.get("uuid")), dict(lead))
    return list(leads.values())


def _payload(event: Any) -> Mapping[str, Any]:
    extra = event.get("extra") if isinstance(event, Mapping) else getattr(event, "extra", None)
    if not isinstance(extra, Mapping):
        return {}
    payload = extra.get("payload", extra)
    return payload if isinstance(payload, Mapping) else {}
