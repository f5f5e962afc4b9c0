"""DAG files pay for importing the operators, the sensor and the notifier at every parse: keep that light."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("requests", "aiohttp", "tenacity", "pyrate_limiter", "pyarrow", "airflow_provider_callbell.hooks")

PROBE = """
import json, sys
from airflow.providers.common.compat.sdk import BaseOperator, BaseSensorOperator
before = set(sys.modules)
import airflow_provider_callbell.operators.contacts
import airflow_provider_callbell.operators.messages
import airflow_provider_callbell.sensors.contacts
import airflow_provider_callbell.notifications.callbell
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_operator_sensor_and_notifier_modules_defer_heavy_imports_to_task_time() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout.strip().splitlines()[-1])

    assert "airflow_provider_callbell.notifications.callbell" in loaded
    assert [module for module in loaded if module.startswith(HEAVY)] == []
