"""The lead sensor in deferrable mode, for the deployment tests: its waiting runs in the triggerer."""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_callbell.sensors.contacts import CallbellNewLeadsSensor

with DAG(
    "callbell_new_leads_deferrable",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
):
    CallbellNewLeadsSensor(
        task_id="wait_for_new_leads",
        tags=["hot"],
        min_leads=2,
        deferrable=True,
        poke_interval=1,
        timeout=300,
    )
