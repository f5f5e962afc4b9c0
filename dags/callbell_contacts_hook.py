"""Export every Callbell contact to a JSON Lines file with CallbellHook.

The file is written under ``CALLBELL_EXPORT_DIR`` (default ``callbell`` in the temp directory), one file per
logical date, and appears only once complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import dag, task


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["callbell", "example"],
)
def callbell_contacts_hook() -> None:
    """Stream every contact of the account into ``contacts-<date>.jsonl``."""

    @task
    def export_contacts(ds: str | None = None) -> dict[str, Any]:
        from airflow_provider_callbell.hooks.callbell import CallbellHook

        target = (
            Path(os.environ.get("CALLBELL_EXPORT_DIR") or Path(tempfile.gettempdir()) / "callbell")
            / f"contacts-{ds}.jsonl"
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        count = 0
        with partial.open("w", encoding="utf-8") as out:
            for contact in CallbellHook().iter_contacts():
                out.write(json.dumps(contact, ensure_ascii=False) + "\n")
                count += 1
        partial.replace(target)
        return {"path": str(target), "count": count}

    @task
    def report(export: Any) -> None:
        print(f"Exported {export['count']} contacts to {export['path']}")

    report(export_contacts())


callbell_contacts_hook()
