"""`make demo`: run the example DAG in real Airflow against the sandbox or the real API.

With ``CALLBELL_API_TOKEN`` set (and optionally ``CALLBELL_BASE_URL``) the DAG reads the real
Callbell account; otherwise it reads a sandbox of seeded contacts started here, live like a busy
inbox, to which a few contacts created today are added, so that today's incremental export has
something to show.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator
from datetime import UTC, datetime

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
DAG_ID = "callbell_contacts_export"
TODAY = datetime.now(UTC)
NEW_TODAY = 25


@contextlib.contextmanager
def callbell_connection() -> Iterator[str]:
    """Yield the connection JSON: the real API when a token is set, else a fresh sandbox."""
    token = os.environ.get("CALLBELL_API_TOKEN")
    if token:
        host = os.environ.get("CALLBELL_BASE_URL", "")
        print(f"Reading the real Callbell API at {host or 'https://api.callbell.eu/v1'}")
        yield json.dumps({"conn_type": "callbell", "host": host, "password": token})
        return
    from airflow_provider_callbell.sandbox import CallbellSandbox

    # a busy inbox: contacts move to the top and get tagged while the export reads them
    busy: dict[str, Any] = {
        "events_per_second": 20,
        "event_mix": {"message": 0.8, "tag_add": 0.1, "tag_remove": 0.1},
    }
    with CallbellSandbox(contacts=500, seed=1, **busy) as sandbox:
        for number in range(NEW_TODAY):
            sandbox.add_contact(
                name=f"New contact {number + 1}",
                tags=["lead", "VIP"] if number % 5 == 0 else ["lead"],
                createdAt=TODAY.strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
        print(
            f"Reading a Callbell sandbox of {500 + NEW_TODAY} contacts at {sandbox.url}, "
            "with 20 messages and tag changes a second"
        )
        yield sandbox.airflow_connection()


def airflow(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "airflow", *args], env=env, check=True)


def main() -> int:
    home, output = DEMO / "airflow-home", DEMO / "output"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "CALLBELL_EXPORT_DIR": str(output),
    }
    if not (home / "airflow.db").exists():
        airflow(env, "db", "migrate")
    with callbell_connection() as connection:
        day = TODAY.strftime("%Y-%m-%d")
        airflow({**env, "AIRFLOW_CONN_CALLBELL_DEFAULT": connection}, "dags", "test", DAG_ID, day)
    result = output / "contacts" / f"ds={day}" / "contacts.jsonl"
    with result.open(encoding="utf-8") as lines:
        count = sum(1 for _ in lines)
    print(f"\nDemo done: {count} contacts created since {day} exported to {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
