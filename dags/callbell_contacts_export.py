"""Daily export of Callbell contacts with CallbellListContactsOperator.

- ``export_new_contacts``: the contacts created since the last successful export, streamed into
  one JSON Lines file per run under ``CALLBELL_EXPORT_DIR`` (default: ``callbell`` in the
  temporary directory), e.g. ``contacts/run_id=scheduled__2026-11-24T00:00:00+00:00/contacts.jsonl``.
  The high-water mark lives in the Airflow Variable
  ``callbell_watermark.callbell_contacts_export.export_new_contacts``, so scheduled, manual,
  backfilled and asset-triggered runs alike export each contact once, and a retried or cleared
  run writes its own window again: no run replaces another's file, nor its own with less.
- ``list_vip_leads``: a small tag-filtered list returned through XCom, consumed by
  ``greet_vip_leads``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import dag, task

from airflow_provider_callbell.operators.contacts import CallbellListContactsOperator

EXPORT_DIR = Path(os.environ.get("CALLBELL_EXPORT_DIR") or Path(tempfile.gettempdir()) / "callbell")


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["callbell", "example"],
)
def callbell_contacts_export() -> None:
    """Export new contacts to a file; hand VIP leads to the next task through XCom."""
    CallbellListContactsOperator(
        task_id="export_new_contacts",
        incremental=True,
        output_path=str(EXPORT_DIR / "contacts" / "run_id={{ run_id }}" / "contacts.jsonl"),
    )

    vip_leads = CallbellListContactsOperator(
        task_id="list_vip_leads",
        tags=["lead", "vip"],
        tags_match="all",
        fields=["uuid", "name", "phoneNumber", "tags"],
        max_contacts=100,
    )

    @task
    def greet_vip_leads(leads: list[dict[str, Any]]) -> int:
        for lead in leads:
            print(f"Say hello to {lead['name']} ({lead['phoneNumber']})")
        return len(leads)

    greet_vip_leads(vip_leads.output)  # type: ignore[arg-type]


callbell_contacts_export()
