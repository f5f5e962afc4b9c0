"""One process of concurrent exports for the shared-budget tests and benchmark.

``python -m tests.budget.export_worker OUT_DIR CONCURRENCY NAME [NAME ...]`` makes one hook per
NAME, says so in ``OUT_DIR/NAME.ready``, and once ``OUT_DIR/go`` exists runs each in its own
thread, walking every contact of ``callbell_default`` with CONCURRENCY threads; each writes
``OUT_DIR/NAME.json`` with the uuids it read and when it started and finished.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from airflow_provider_callbell.hooks.callbell import CallbellHook


def export(hook: CallbellHook, out_dir: Path, name: str, concurrency: int) -> None:
    started = time.time()
    uuids = [contact["uuid"] for contact in hook.iter_contacts(concurrency=concurrency)]
    result = {"uuids": uuids, "started": started, "finished": time.time()}
    (out_dir / f"{name}.json").write_text(json.dumps(result))


def main(out_dir: str, concurrency: str, *names: str) -> None:
    out = Path(out_dir)
    threads = []
    for name in names:
        hook = CallbellHook()
        hook.budget  # noqa: B018  (the connections read and the budget made before the start)
        threads.append(threading.Thread(target=export, args=(hook, out, name, int(concurrency))))
        (out / f"{name}.ready").touch()
    while not (out / "go").exists():
        time.sleep(0.005)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main(*sys.argv[1:])
