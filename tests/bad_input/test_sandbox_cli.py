"""The sandbox's command line: values it cannot serve with end in a usage error, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_callbell.sandbox.__main__ import main


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--latency", "1e10"], "latency must be >= 0 and <= 60"),
        (["--latency-jitter", "nan"], "--latency-jitter: expected a number such as 5, 2.5 or 1e3, got 'nan'"),
        (["--contacts", "\u0663"], "--contacts: expected a whole number in ASCII digits"),
        (["--contacts", "1_000"], "--contacts: expected a whole number in ASCII digits"),
        (["--port", "\u0663\u0660\u0660\u0660"], "--port: expected a port from 0 to 65535"),
        (["--rate-limit", "1e-400"], "--rate-limit: expected a number such as"),  # not 0: no limit
        (["--rate-limit", "1_000"], "--rate-limit: expected a number such as"),
        (["--event-mix", "message=1_0"], "--event-mix: expected KIND=WEIGHT"),
        (["--event-tags", "lead,,vip"], "--event-tags: expected TAG,... without blank entries"),
        (["--event-tags", "lead,Lead"], "event_tags must not repeat a tag"),
        (
            ["--event-tags", "'lead'"],
            "event_tags must be non-blank printable strings",
        ),
        (["--page-cap", "-1"], "page_cap must be >= 1, got -1; or None for no cap (0 on the command line)"),
        (["--port", "-1"], "expected a port from 0 to 65535"),
        (["--port", "70000"], "expected a port from 0 to 65535"),
        (["--host", "256.1.1.1", "--port", "0"], "cannot listen on 256.1.1.1:0"),
        (["--host", " "], "--host must name an address"),
        (["--contacts", "100000000000"], "contacts must be <= 10,000,000"),
        (["--page-size", "100000"], "page_size must be <= 10,000"),
        (["--rate-limit", "0.0001"], "rate_limit must be >= 1 request a second"),
        (["--events-per-second", "1e400"], "events_per_second must be a finite number"),
        (["--max-faults-per-request", "100000"], "max_faults_per_request must be <= 1,000"),
    ],
)
def test_bad_values(capsys: pytest.CaptureFixture[str], arguments: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as caught:
        main([*arguments, "--contacts", "0"] if "--contacts" not in arguments else arguments)

    assert caught.value.code == 2
    error = capsys.readouterr().err
    assert message in error
    assert "Traceback" not in error


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "holds more than a token"),
        (b"abc\r\ndefghijkl", "token must be 8 to 1024 printable ASCII characters"),
        (b"short", "token must be 8 to 1024"),
        (b"\xff\xfe-not-utf8", "is not UTF-8 text: it holds no token a client could send"),
    ],
    ids=["endless", "line-break", "short", "not-utf8"],
)
def test_token_files_no_client_could_use(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = Path("/dev/zero") if content is None else tmp_path / "token"
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(SystemExit) as caught:
        main(["--contacts", "0", "--token-file", str(path)])

    assert caught.value.code == 2
    error = capsys.readouterr().err
    assert message in error
    assert "Traceback" not in error
