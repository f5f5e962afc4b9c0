"""After every run of the deployment suite: the API token is in no log the deployment wrote."""

from __future__ import annotations

from tests.deployment.conftest import TOKEN
from tests.deployment.stack import Deployment


def test_the_token_is_in_no_log(deployment: Deployment) -> None:
    logs = deployment.all_logs()

    assert "Listed" in logs  # the export tasks' logs are among them
    assert "reporting new ones from now on" in logs or "Trigger" in logs  # and the triggerer's
    assert TOKEN not in logs
    assert TOKEN[: len(TOKEN) // 2] not in logs
