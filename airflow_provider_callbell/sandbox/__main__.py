"""Command line: ``python -m airflow_provider_callbell.sandbox`` (``callbell-sandbox``)."""

from __future__ import annotations

import argparse
import contextlib
import decimal
import logging
import os
import re
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from airflow_provider_callbell.arguments import number_of
from airflow_provider_callbell.sandbox.server import CallbellSandbox
from airflow_provider_callbell.sandbox.settings import (
    CURSOR_SEMANTICS,
    DEFAULT_EVENT_MIX,
    DEFAULT_TOKEN,
    EVENT_KINDS,
    PAGINATION_MODES,
    RETRY_AFTER_FORMATS,
    TAGS_SEMANTICS,
    SandboxSettings,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType

T = TypeVar("T", int, float)

TOKEN_ENV = "CALLBELL_SANDBOX_TOKEN"  # noqa: S105 - a variable name


def _whole(text: str) -> int:
    """A whole number in ASCII digits (``int()`` would also read ``1_000`` and other scripts' digits)."""
    if not re.fullmatch(r"[+-]?[0-9]+", text.strip()):
        raise argparse.ArgumentTypeError(f"expected a whole number in ASCII digits, got {text!r}")
    return int(text)


def _decimal(text: str) -> float:
    """A number in plain ASCII notation (``5``, ``2.5``, ``1e3``), none too small for a float."""
    number = number_of(text)
    if number is None or (number == 0 and decimal.Decimal(text.strip()) != 0):
        raise argparse.ArgumentTypeError(f"expected a number such as 5, 2.5 or 1e3, got {text!r}")
    return number


def _or_none(parse: Callable[[str], T]) -> Callable[[str], T | None]:
    """``parse``, with 0 meaning None: no limit."""

    def parse_or_none(text: str) -> T | None:
        value = parse(text)
        return None if value == 0 else value

    return parse_or_none


def _event_mix(text: str) -> dict[str, float]:
    """Parse ``message=0.7,create=0.1,...``; the settings check the kinds and weights."""
    pairs = [item.partition("=") for item in text.split(",")]
    try:
        mix = {kind.strip(): _decimal(weight) for kind, _, weight in pairs}
    except argparse.ArgumentTypeError:
        mix = {}
    if len(mix) != len(pairs):
        raise argparse.ArgumentTypeError(f"expected KIND=WEIGHT,... with distinct kinds, got {text!r}")
    return mix


def _tags(text: str) -> tuple[str, ...]:
    """Parse ``lead,vip``; an empty string means no tags, a blank entry is an error."""
    if not text.strip():
        return ()
    tags = tuple(tag.strip() for tag in text.split(","))
    if not all(tags):
        raise argparse.ArgumentTypeError(f"expected TAG,... without blank entries, got {text!r}")
    return tags


def _port(text: str) -> int:
    """A TCP port number, 0 for any free one."""
    if not re.fullmatch(r"[0-9]+", text) or int(text) > 65_535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text!r}")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callbell-sandbox",
        description="Serve a local, Callbell-compatible API until interrupted.",
        # Otherwise --token would abbreviate --token-file and a token be read as a path.
        allow_abbrev=False,
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    add("--port", type=_port, default=8765, help="port, 0 for any (default: %(default)s)")
    add("--contacts", type=_whole, default=1000, help="contacts to seed (default: %(default)s)")
    add("--contact-capacity", type=_whole, default=1_000_000, help="most contacts the account holds")
    add("--message-capacity", type=_whole, default=100_000, help="most messages kept, the oldest forgotten")
    add("--seed", type=_whole, default=0, help="seed of the data and faults (default: %(default)s)")
    add(
        "--token-file",
        metavar="PATH",
        help=f"file holding the API token (default: ${TOKEN_ENV}, else {DEFAULT_TOKEN!r})",
    )
    add("--page-size", type=_whole, default=20, help="contacts per page (default: %(default)s)")
    add("--page-cap", type=_or_none(_whole), default=500, help="last page number allowed, 0 for none")
    add("--pagination", choices=sorted(PAGINATION_MODES), default="cursor")
    add("--tags-semantics", choices=sorted(TAGS_SEMANTICS), default="any")
    add("--rate-limit", type=_or_none(_decimal), default=300, help="requests per second, 0 for none")
    add("--retry-after-format", choices=sorted(RETRY_AFTER_FORMATS), default="seconds")
    add("--latency", type=_decimal, default=0.0, help="seconds added to every request")
    add("--latency-jitter", type=_decimal, default=0.0, help="random extra latency, up to")
    for kind in ("error", "throttle", "drop", "truncate", "lost-reply"):
        add(f"--{kind}-rate", type=_decimal, default=0.0, help=f"probability of {kind} faults")
    add("--lost-reply-delay", type=_decimal, default=0.0, help="seconds until a lost reply's connection ends")
    add("--max-faults-per-request", type=_whole, default=2)
    add("--cursor-semantics", choices=sorted(CURSOR_SEMANTICS), default="keyset")
    add("--events-per-second", type=_decimal, default=0.0, help="live events applied per second")
    add(
        "--event-mix",
        type=_event_mix,
        default=dict(DEFAULT_EVENT_MIX),
        metavar="KIND=WEIGHT,...",
        help=f"weights of the event kinds ({', '.join(EVENT_KINDS)}); kinds left out weigh 0",
    )
    add("--tag-message-rate", type=_decimal, default=0.5, help="chance a tag change comes with a message")
    add("--event-tags", type=_tags, default=("lead",), metavar="TAG,...", help="tags events add and remove")
    add("--event-seed", type=_whole, default=None, help="seed of the events (default: --seed)")
    add(
        "--message-status-interval",
        type=_decimal,
        default=0.2,
        help="seconds between a sent message's status steps (default: %(default)s)",
    )
    add("--message-failure-rate", type=_decimal, default=0.0, help="probability a sent message fails")
    add("--verbose", "-v", action="store_true", help="log every request to stderr")
    return parser


_MAX_TOKEN_FILE_BYTES = 4096


def _token(path: str | None) -> str:
    """The token from ``path``, else from the environment: never on the command line, seen by ``ps``."""
    if path is None:
        return os.environ.get(TOKEN_ENV, DEFAULT_TOKEN)
    with Path(path).open("rb") as file:  # a device such as /dev/zero never ends
        data = file.read(_MAX_TOKEN_FILE_BYTES + 1)
    if len(data) > _MAX_TOKEN_FILE_BYTES:
        raise ValueError(
            f"--token-file {path!r} holds more than a token ({_MAX_TOKEN_FILE_BYTES} bytes at most)"
        )
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError(
            f"--token-file {path!r} is not UTF-8 text: it holds no token a client could send"
        ) from None


def _settings(args: argparse.Namespace) -> SandboxSettings:
    return SandboxSettings(
        contacts=args.contacts,
        contact_capacity=args.contact_capacity,
        message_capacity=args.message_capacity,
        seed=args.seed,
        token=_token(args.token_file),
        page_size=args.page_size,
        page_cap=args.page_cap,
        pagination=args.pagination,
        tags_semantics=args.tags_semantics,
        rate_limit=args.rate_limit,
        retry_after_format=args.retry_after_format,
        error_rate=args.error_rate,
        throttle_rate=args.throttle_rate,
        drop_rate=args.drop_rate,
        truncate_rate=args.truncate_rate,
        lost_reply_rate=args.lost_reply_rate,
        lost_reply_delay=args.lost_reply_delay,
        latency=args.latency,
        latency_jitter=args.latency_jitter,
        max_faults_per_request=args.max_faults_per_request,
        cursor_semantics=args.cursor_semantics,
        events_per_second=args.events_per_second,
        event_mix=args.event_mix,
        tag_message_rate=args.tag_message_rate,
        event_tags=args.event_tags,
        event_seed=args.event_seed,
        message_status_interval=args.message_status_interval,
        message_failure_rate=args.message_failure_rate,
    )


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """Turn SIGINT and SIGTERM into setting the yielded event, within the block."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox until SIGINT or SIGTERM; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
    except (OSError, ValueError) as error:
        parser.error(str(error))
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(message)s")
    if not args.host.strip():
        parser.error("--host must name an address, such as 127.0.0.1 or 0.0.0.0 for every interface")
    with _stop_on_signals() as stop:
        try:
            sandbox = CallbellSandbox(host=args.host, port=args.port, settings=settings).start()
        except OSError as error:
            parser.error(f"cannot listen on {args.host}:{args.port}: {error}")
        try:
            print(f"Callbell sandbox listening on {sandbox.url} ({settings.contacts} contacts)", flush=True)
            stop.wait()
        finally:
            sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
