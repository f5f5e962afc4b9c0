"""``python -m airflow_provider_callbell.sandbox``: starts, announces itself, serves, stops."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from airflow_provider_callbell.sandbox.__main__ import _parser, _settings, main
from airflow_provider_callbell.sandbox.settings import SandboxSettings

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
    launch: Launch,
    tmp_path: Path,
    *,
    stop_signal: signal.Signals,
    token_from_env: bool,
    page_cap: str,
    page_9: int,
) -> None:
    token = "cli-SECRET"
    args = ["--port", "0", "--contacts", "30", "--page-size", "7", "--page-cap", page_cap]
    if token_from_env:
        process = launch(args, {"CALLBELL_SANDBOX_TOKEN": token})
    else:
        (tmp_path / "token").write_text(f"  {token}\n")
        process = launch(
            [*args, "--token-file", str(tmp_path / "token")], {"CALLBELL_SANDBOX_TOKEN": "other"}
        )
    assert process.stdout is not None

    match = BANNER.fullmatch(process.stdout.readline())
    assert match is not None
    url, count = match.groups()
    command_line = Path(f"/proc/{process.pid}/cmdline").read_bytes()
    headers = {"Authorization": f"Bearer {token}"}
    response = requests.get(f"{url}/contacts", headers=headers, timeout=5)
    beyond = requests.get(f"{url}/contacts", params={"page": 9}, headers=headers, timeout=5)

    process.send_signal(stop_signal)
    stdout, stderr = process.communicate(timeout=10)

    assert b"airflow_provider_callbell.sandbox" in command_line
    assert b"SECRET" not in command_line
    assert count == "30"
    assert response.status_code == 200
    assert len(response.json()["contacts"]) == 7
    assert beyond.status_code == page_9
    assert process.returncode == 0
    assert "SECRET" not in stdout + stderr


@pytest.mark.parametrize("argv", [["--token", "cli-SECRET"], ["--token=cli-SECRET"], ["--tok", "cli-SECRET"]])
def test_there_is_no_token_option(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)

    assert exit_info.value.code == 2
    assert "unrecognized arguments: --tok" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "No such file or directory"), ("  \n", "token must be 8 to 1024 printable ASCII")],
)
def test_unusable_token_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content)

    with pytest.raises(SystemExit) as exit_info:
        main(["--token-file", str(path)])

    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_token_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file\n")
    monkeypatch.delenv("CALLBELL_SANDBOX_TOKEN", raising=False)
    default = _settings(_parser().parse_args([])).token
    monkeypatch.setenv("CALLBELL_SANDBOX_TOKEN", "from-env")
    from_env = _settings(_parser().parse_args([])).token
    from_file = _settings(_parser().parse_args(["--token-file", str(tmp_path / "token")])).token

    assert (default, from_env, from_file) == ("sandbox-token", "from-env", "from-file")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--page-size", "0"], "page_size must be >= 1"),
        (["--error-rate", "0.8", "--drop-rate", "0.8"], "must not exceed 1"),
        (["--pagination", "offset"], "invalid choice"),
        (["--cursor-semantics", "offset"], "invalid choice"),
        (["--event-mix", "message"], "expected KIND=WEIGHT,... with distinct kinds"),
        (["--event-mix", "message=1,message=2"], "expected KIND=WEIGHT,... with distinct kinds"),
        (["--event-mix", "message=lots"], "expected KIND=WEIGHT,... with distinct kinds"),
        (["--event-mix", "reply=1"], "event_mix kinds must be among message, create, delete"),
        (["--event-mix", "message=0"], "event_mix needs at least one positive weight"),
        (["--events-per-second", "-2"], "events_per_second must be >= 0"),
        (["--event-tags", "a,A"], "event_tags must not repeat a tag"),
    ],
)
def test_invalid_arguments(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)

    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_live_event_flags() -> None:
    argv = [
        "--cursor-semantics", "snapshot",
        "--events-per-second", "20",
        "--event-mix", "message=0.5, create = 0.25,tag_add=0.25",
        "--tag-message-rate", "0.2",
        "--event-tags", "lead, vip",
        "--event-seed", "7",
    ]  # fmt: skip

    settings = _settings(_parser().parse_args(argv))

    assert settings.replace(contacts=100) == SandboxSettings(
        cursor_semantics="snapshot",
        events_per_second=20,
        event_mix={"message": 0.5, "create": 0.25, "tag_add": 0.25},
        tag_message_rate=0.2,
        event_tags=("lead", "vip"),
        event_seed=7,
    )


def test_live_event_flags_default_to_a_static_account() -> None:
    settings = _settings(_parser().parse_args([]))
    defaults = SandboxSettings()

    assert settings.events_per_second == 0
    assert (settings.event_mix, settings.event_tags) == (defaults.event_mix, defaults.event_tags)
    assert (settings.cursor_semantics, settings.event_seed) == ("keyset", None)
    assert _settings(_parser().parse_args(["--event-tags", "", "--event-mix", "message=1"])).event_tags == ()
