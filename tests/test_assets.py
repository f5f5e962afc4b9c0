"""leads_from_events: the leads of asset events, whatever layout Airflow stored them in."""

from __future__ import annotations

from types import SimpleNamespace

from airflow_provider_callbell.assets import leads_from_events

A, B, C = ({"uuid": uuid, "name": uuid.upper()} for uuid in ("a", "b", "c"))


def test_a_deployed_triggerer_nests_the_payload() -> None:
    events = [
        SimpleNamespace(extra={"from_trigger": True, "payload": {"leads": [A, B]}}),
        SimpleNamespace(extra={"from_trigger": True, "payload": {"leads": [C]}}),
    ]

    assert leads_from_events(events) == [A, B, C]


def test_a_payload_at_the_top_of_extra_and_mappings_work_too() -> None:
    assert leads_from_events([{"extra": {"leads": [B]}}, SimpleNamespace(extra={"leads": [A]})]) == [B, A]


def test_the_whole_triggering_asset_events_mapping() -> None:
    events = {"callbell_new_leads": [SimpleNamespace(extra={"payload": {"leads": [A]}})], "other": []}

    assert leads_from_events(events) == [A]


def test_each_lead_once_and_foreign_events_ignored() -> None:
    events = [
        SimpleNamespace(extra={"payload": {"leads": [A, B]}}),
        SimpleNamespace(extra={"payload": {"leads": [B]}}),
        SimpleNamespace(extra={"something": "else"}),
        SimpleNamespace(extra=None),
        SimpleNamespace(extra={"payload": "not a mapping"}),
        SimpleNamespace(),
    ]

    assert leads_from_events(events) == [A, B]
