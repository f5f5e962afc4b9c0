"""``python -m airflow_provider_callbell.sandbox``: starts, announces itself, serves, stops."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
import requests

from airflow_provider_callbell.sandbox.__main__ import main

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    Launch = Callable[[list[str], dict[str, str]], subprocess.Popen[str]]

BANNER = re.compile(r"Callbell sandbox listening on (http://127\.0\.0\.1:\d+/v1) \((\d+) contacts\)\n")


@pytest.fixture
def launch() -> Iterator[Launch]:
    started: list[subprocess.Popen[str]] = []

    def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow_provider_callbell.sandbox", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    ("stop_signal", "token_from_env", "page_cap", "page_9"),
    [(signal.SIGTERM, False, "8", 400), (signal.SIGINT, True, "0", 200)],
)
def test_serves_until_signalled(
    launch: Launch, stop_signal: signal.Signals, token_from_env: bool, page_cap: str, page_9: int
) -> None:
    token = "cli-SECRET"
    args = ["--port", "0", "--contacts", "30", "--page-size", "7", "--page-cap", page_cap]
    if token_from_env:
        process = launch(args, {"CALLBELL_SANDBOX_TOKEN": token})
    else:
        process = launch([*args, "--token", token], {})
    assert process.stdout is not None

    match = BANNER.fullmatch(process.stdout.readline())
    assert match is not None
    url, count = match.groups()
    headers = {"Authorization": f"Bearer {token}"}
    response = requests.get(f"{url}/contacts", headers=headers, timeout=5)
    beyond = requests.get(f"{url}/contacts", params={"page": 9}, headers=headers, timeout=5)

    process.send_signal(stop_signal)
    stdout, stderr = process.communicate(timeout=10)

    assert count == "30"
    assert response.status_code == 200
    assert len(response.json()["contacts"]) == 7
    assert beyond.status_code == page_9
    assert process.returncode == 0
    assert "SECRET" not in stdout + stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--page-size", "0"], "page_size must be >= 1"),
        (["--error-rate", "0.8", "--drop-rate", "0.8"], "must not exceed 1"),
        (["--pagination", "offset"], "invalid choice"),
    ],
)
def test_invalid_arguments(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)

    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
