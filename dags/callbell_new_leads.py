"""Wait for new Callbell leads, then hand them to a CRM sync (here: a JSON Lines file).

``wait_for_new_leads`` succeeds once a contact tagged ``lead`` is new: created since the run's
data interval start (since the sensor began watching on runs without one, such as manual runs
on Airflow 3), or tagged after the sensor began. ``sync_to_crm`` writes those leads under
``CALLBELL_EXPORT_DIR`` (default: ``callbell`` in the temporary directory), one file per run.
The sensor looks every ``CALLBELL_POLL_INTERVAL`` seconds (default 60) and is retried twice,
after ``CALLBELL_RETRY_DELAY`` seconds (default 60).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import dag, task

from airflow_provider_callbell.sensors.contacts import CallbellNewLeadsSensor

EXPORT_DIR = Path(os.environ.get("CALLBELL_EXPORT_DIR") or Path(tempfile.gettempdir()) / "callbell")
POLL_INTERVAL = float(os.environ.get("CALLBELL_POLL_INTERVAL", "60"))
RETRY_DELAY = timedelta(seconds=float(os.environ.get("CALLBELL_RETRY_DELAY") or 60))


@dag(
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["callbell", "example"],
)
def callbell_new_leads() -> None:
    """Sync each hour's new leads to the CRM as soon as there is one."""
    new_leads = CallbellNewLeadsSensor(
        task_id="wait_for_new_leads",
        tags=["lead"],
        # what the CRM needs; by default leads carry only uuid, tags, source and createdAt
        fields=["uuid", "name", "phoneNumber", "tags", "createdAt"],
        mode="reschedule",
        poke_interval=POLL_INTERVAL,
        timeout=60 * 60,
        soft_fail=True,
        # a retry watches on from where the first try began (the watch survives retries); it also
        # recovers a poke the scheduler fails in a race of its own (apache/airflow#71172)
        retries=2,
        retry_delay=RETRY_DELAY,
    )

    @task
    def sync_to_crm(leads: list[dict[str, Any]], run_id: str | None = None) -> str:
        # every kind of run has a run id; manual and asset-triggered runs have no logical date
        target = EXPORT_DIR / "crm" / f"new-leads-{run_id}.jsonl"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(json.dumps(lead, ensure_ascii=False) + "\n" for lead in leads))
        return str(target)

    sync_to_crm(new_leads.output)  # type: ignore[arg-type]


callbell_new_leads()
