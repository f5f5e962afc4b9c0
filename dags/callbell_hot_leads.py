"""Warehouse lead scores back into Callbell: tag the hottest leads, message them, page on failure.

- ``pick_hot_leads``: the ``HOT_LEADS`` best-scored leads of the warehouse's scores (a CSV of
  ``phoneNumber,name,score``; ``CALLBELL_SCORES_PATH``, by default ``data/lead_scores.csv`` beside
  this file, whose fictional numbers stand for your warehouse's output).
- ``tag_hot_leads``: CallbellUpsertContactsOperator adds the ``hot`` tag and sets the
  ``lead_score`` custom field (create that text field in Callbell first), matching contacts by
  phone number and creating those missing; unchanged contacts cost no write. One report line
  a lead under ``CALLBELL_EXPORT_DIR``.
- ``message_hot_leads``: CallbellSendMessageOperator sends them the approved template whose
  uuid is the Variable ``callbell_hot_lead_template`` (one placeholder: the lead's first name),
  once per lead whatever retries or clears happen, then waits on the triggerer until each is
  delivered or failed.
- Tasks are retried once (after ``CALLBELL_RETRY_DELAY`` seconds, default 60); a task that fails
  for good messages the phone numbers in the Variable ``callbell_on_call``.
"""

from __future__ import annotations

import csv
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import dag, task

from airflow_provider_callbell.notifications.callbell import send_callbell_notification
from airflow_provider_callbell.operators.contacts import CallbellUpsertContactsOperator
from airflow_provider_callbell.operators.messages import CallbellSendMessageOperator

SCORES = os.environ.get("CALLBELL_SCORES_PATH") or str(Path(__file__).parent / "data" / "lead_scores.csv")
EXPORT_DIR = Path(os.environ.get("CALLBELL_EXPORT_DIR") or Path(tempfile.gettempdir()) / "callbell")
POLL_INTERVAL = float(os.environ.get("CALLBELL_POLL_INTERVAL") or 60)
RETRY_DELAY = timedelta(seconds=float(os.environ.get("CALLBELL_RETRY_DELAY") or 60))
HOT_LEADS = 3


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 1,  # a retry sends no message twice: what was sent is in Airflow's state
        "retry_delay": RETRY_DELAY,
        "on_failure_callback": send_callbell_notification(to="{{ var.value.callbell_on_call }}"),
    },
    tags=["callbell", "example"],
)
def callbell_hot_leads() -> None:
    """Tag and message the best-scored leads of the warehouse."""

    @task(multiple_outputs=True)
    def pick_hot_leads(path: str) -> dict[str, list[dict[str, Any]]]:
        with open(path, newline="", encoding="utf-8") as scores:
            best = sorted(csv.DictReader(scores), key=lambda row: -float(row["score"]))[:HOT_LEADS]
        contacts = [
            {
                "phoneNumber": lead["phoneNumber"],
                "name": lead["name"],
                "tags": ["hot"],
                "customFields": {"lead_score": lead["score"]},
            }
            for lead in best
        ]
        messages = [
            {"to": lead["phoneNumber"], "template_values": [lead["name"].split()[0]]} for lead in best
        ]
        return {"contacts": contacts, "messages": messages}

    leads = pick_hot_leads(SCORES)

    tag_hot_leads = CallbellUpsertContactsOperator(
        task_id="tag_hot_leads",
        contacts=leads["contacts"],  # type: ignore[index]
        match_on="phone",
        create_missing=True,
        tags_mode="add",
        report_path=str(EXPORT_DIR / "hot_leads" / "run_id={{ run_id }}" / "upsert_report.jsonl"),
    )

    message_hot_leads = CallbellSendMessageOperator(
        task_id="message_hot_leads",
        messages=leads["messages"],  # type: ignore[index]
        template_uuid="{{ var.value.callbell_hot_lead_template }}",
        metadata={"campaign": "hot_leads"},
        wait_for_delivery=True,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
    )

    tag_hot_leads >> message_hot_leads


callbell_hot_leads()
