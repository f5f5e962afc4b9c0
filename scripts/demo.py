"""`make demo`: run the example DAG in real Airflow against the sandbox or the real API.

With ``CALLBELL_API_TOKEN`` set (and optionally ``CALLBELL_BASE_URL``) the DAG reads the real
Callbell account once, exporting what is new since the demo's last run. Otherwise it reads a
sandbox of seeded contacts started here, live like a busy inbox, twice: the first run exports
every contact, then a few contacts are created and the second run exports just those.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_callbell.sandbox import CallbellSandbox

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
DAG_ID = "callbell_contacts_export"
MARK = f"callbell_watermark.{DAG_ID}.export_new_contacts"
SEEDED = 500
NEW_CONTACTS = 25


@contextlib.contextmanager
def sandbox_connection() -> Iterator[tuple[str, CallbellSandbox]]:
    """A fresh sandbox of seeded contacts, live like a busy inbox, and its connection JSON."""
    from airflow_provider_callbell.sandbox import CallbellSandbox

    # a busy inbox: contacts move to the top and get tagged while the export reads them
    busy: dict[str, Any] = {
        "events_per_second": 20,
        "event_mix": {"message": 0.8, "tag_add": 0.1, "tag_remove": 0.1},
    }
    with CallbellSandbox(contacts=SEEDED, seed=1, **busy) as sandbox:
        print(
            f"Reading a Callbell sandbox of {SEEDED} contacts at {sandbox.url}, "
            "with 20 messages and tag changes a second"
        )
        yield sandbox.airflow_connection(), sandbox


def airflow(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "airflow", *args], env=env, check=True, stdout=subprocess.PIPE, text=True
    )
    return done.stdout


class Demo:
    """Runs of the example DAG in the demo's Airflow home, and the files they wrote."""

    def __init__(self) -> None:
        home = DEMO / "airflow-home"
        self.output = DEMO / "output"
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "CALLBELL_EXPORT_DIR": str(self.output),
        }
        if not (home / "airflow.db").exists():
            airflow(self.env, "db", "migrate")

    def run(self, connection: str) -> tuple[Path, int]:
        """Run the DAG once; the file its export wrote and how many contacts it holds."""
        before = set(self.output.glob("contacts/*/contacts.jsonl"))
        now = datetime.now(UTC).isoformat()
        airflow({**self.env, "AIRFLOW_CONN_CALLBELL_DEFAULT": connection}, "dags", "test", DAG_ID, now)
        [written] = set(self.output.glob("contacts/*/contacts.jsonl")) - before
        with written.open(encoding="utf-8") as lines:
            return written, sum(1 for _ in lines)

    def mark(self) -> datetime:
        """Where the export's high-water mark stands."""
        return datetime.fromisoformat(
            json.loads(airflow(self.env, "variables", "get", MARK))["created_before"]
        )

    def forget_mark(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "airflow", "variables", "delete", MARK],
            env=self.env,
            check=False,
            capture_output=True,
        )


def main() -> int:
    demo = Demo()
    token = os.environ.get("CALLBELL_API_TOKEN")
    if token:
        host = os.environ.get("CALLBELL_BASE_URL", "")
        print(f"Reading the real Callbell API at {host or 'https://api.callbell.eu/v1'}")
        path, count = demo.run(json.dumps({"conn_type": "callbell", "host": host, "password": token}))
        print(f"\nDemo done: {count} contacts new since the last demo run exported to {path}")
        return 0
    demo.forget_mark()  # a new sandbox each time: start from its beginning
    with sandbox_connection() as (connection, sandbox):
        first, first_count = demo.run(connection)
        created = (demo.mark() + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for number in range(NEW_CONTACTS):
            tags = ["lead", "VIP"] if number % 5 == 0 else ["lead"]
            sandbox.add_contact(name=f"New contact {number + 1}", tags=tags, createdAt=created)
        second, second_count = demo.run(connection)
    print(f"\nDemo done.\nFirst run: all {first_count} contacts exported to {first}")
    print(f"Second run: the {second_count} contacts created since exported to {second}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
