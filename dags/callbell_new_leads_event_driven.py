"""Event-driven (Airflow 3): a DAG scheduled by new Callbell leads, with no sensor task.

An ``AssetWatcher`` runs ``CallbellNewLeadsEventTrigger`` in the triggerer; each batch of new
leads becomes an asset event carrying the leads (read with ``leads_from_events``), and triggers
a run that writes them under ``CALLBELL_EXPORT_DIR``, one file per run. The watcher looks
every ``CALLBELL_POLL_INTERVAL`` seconds (default 60). On Airflow 2 this file defines no DAG.
"""

from __future__ import annotations

from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

if AIRFLOW_V_3_0_PLUS:
    import json
    import os
    import tempfile
    from pathlib import Path
    from typing import Any

    import pendulum
    from airflow.sdk import Asset, AssetWatcher, dag, task

    from airflow_provider_callbell.assets import leads_from_events
    from airflow_provider_callbell.triggers.contacts import CallbellNewLeadsEventTrigger

    EXPORT_DIR = Path(os.environ.get("CALLBELL_EXPORT_DIR") or Path(tempfile.gettempdir()) / "callbell")
    POLL_INTERVAL = float(os.environ.get("CALLBELL_POLL_INTERVAL", "60"))

    new_callbell_leads = Asset(
        name="callbell_new_leads",
        watchers=[
            AssetWatcher(
                name="callbell_new_leads_watcher",
                # events carry uuid, tags, source and createdAt of each lead (fields=...)
                trigger=CallbellNewLeadsEventTrigger(tags=["lead"], poll_interval=POLL_INTERVAL),
            )
        ],
    )

    @dag(
        schedule=[new_callbell_leads],
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        tags=["callbell", "example"],
    )
    def callbell_new_leads_event_driven() -> None:
        """Sync the new leads of each asset event to the CRM."""

        @task
        def sync_to_crm(triggering_asset_events: Any = None, run_id: str | None = None) -> int:
            events = triggering_asset_events[new_callbell_leads] if triggering_asset_events else []
            leads = leads_from_events(events)
            # asset-triggered runs have no logical date: one file per run, named after the run
            target = EXPORT_DIR / "crm" / f"new-leads-{run_id}.jsonl"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("".join(json.dumps(lead, ensure_ascii=False) + "\n" for lead in leads))
            return len(leads)

        sync_to_crm()

    callbell_new_leads_event_driven()
