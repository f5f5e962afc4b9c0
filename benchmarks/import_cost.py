"""What importing an operator or sensor module costs a DAG file at each parse.

Each module is imported in a fresh interpreter that has already imported ``airflow.sdk``
(what every DAG file pays anyway), so the figure is the module's own cost. Runs alternate
between the modules so machine noise hits all of them alike; medians are reported.

    .venv/bin/python benchmarks/import_cost.py [--runs 21]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

MEASURE = """
import time
import airflow.sdk
started = time.perf_counter()
{imports}
print(time.perf_counter() - started)
"""

TARGETS = {
    "callbell operator": ["airflow_provider_callbell.operators.contacts"],
    "callbell sensor": ["airflow_provider_callbell.sensors.contacts"],
    "callbell operator + sensor": [
        "airflow_provider_callbell.operators.contacts",
        "airflow_provider_callbell.sensors.contacts",
    ],
    "http operator": ["airflow.providers.http.operators.http"],
    "http sensor": ["airflow.providers.http.sensors.http"],
    "http operator + sensor": [
        "airflow.providers.http.operators.http",
        "airflow.providers.http.sensors.http",
    ],
}


def import_seconds(modules: list[str]) -> float:
    """Seconds one fresh interpreter spends importing ``modules`` after ``airflow.sdk``."""
    code = MEASURE.format(imports="\n".join(f"import {module}" for module in modules))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=21, help="imports per module (default 21)")
    runs = parser.parse_args().runs

    samples: dict[str, list[float]] = {name: [] for name in TARGETS}
    for _ in range(runs):
        for name, modules in TARGETS.items():
            samples[name].append(import_seconds(modules))

    print(f"Import cost on top of airflow.sdk, median of {runs} fresh interpreters\n")
    print("| modules | median ms | min ms | max ms |")
    print("|---|---:|---:|---:|")
    for name, values in samples.items():
        median, low, high = (1000 * statistic(values) for statistic in (statistics.median, min, max))
        print(f"| {name} | {median:.1f} | {low:.1f} | {high:.1f} |")


if __name__ == "__main__":
    main()
