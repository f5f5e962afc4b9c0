"""Streaming writers of contacts: JSON Lines, JSON, CSV and Parquet.

Each writer takes contacts one at a time, holds at most a row group in memory, and returns
how many it wrote and the columns of the file (for lineage). Parquet has a fixed, typed schema
(``exports/schema.py``, written by ``exports/parquet.py``), so it streams straight through. CSV
needs its header before the first row: the ``fields`` projection when given, else the
documented contact keys plus any others the stream brings, found by spooling the rows to a
temporary file first.
"""

from __future__ import annotations

import contextlib
import csv
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any

import msgspec

from airflow_provider_callbell.exports.schema import CONTACT_KEYS, Column, cell, columns_of

FORMATS = ("jsonl", "json", "csv", "parquet")
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet"}

PARQUET_ROW_GROUP = 10_000
_SPOOL_IN_MEMORY = 8 * 1024 * 1024

Contact = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Written:
    """What a writer wrote: how many contacts, and the file's columns (keys, for JSON)."""

    count: int
    columns: tuple[Column, ...]


Writer = Callable[[Iterable[Contact], IO[bytes], Sequence[str] | None], Written]


def format_of(path: str, given: str | None, *, side: str = "output") -> str:
    """The format of a file: ``given`` if set, else the path's suffix; a suffix naming another
    format than ``given`` is an error (readers that go by the suffix would misread the file).

    :param side: ``output`` or ``input``: errors name ``<side>_format`` and ``<side>_path``.
    """
    suffix = PurePosixPath(path).suffix.lower()
    if given is not None:
        if given not in FORMATS:
            allowed = ", ".join(FORMATS)
            raise ValueError(f"{side}_format must be one of {allowed} or None, got {given!r}")
        if SUFFIXES.get(suffix, given) != given:
            raise ValueError(
                f"{side}_format {given!r} contradicts the suffix {suffix} of {side}_path {path!r}, which "
                f"names {SUFFIXES[suffix]}: rename the file, or leave {side}_format out"
            )
        return given
    if suffix not in SUFFIXES:
        raise ValueError(
            f"{side}_format is not set and the suffix of {side}_path {path!r} names no format: use one of "
            f"{', '.join(SUFFIXES)}, or set {side}_format to one of {', '.join(FORMATS)}"
        )
    return SUFFIXES[suffix]


def known_format(path: str | None, given: str | None, *, side: str = "output") -> str | None:
    """:func:`format_of` ``path``; ``given`` checked alone while the path is a template (``None``)."""
    if path is None:
        return None if given is None else format_of("", given, side=side)
    return format_of(path, given, side=side)


class _Sink:
    """Bytes written to ``out`` in large chunks; ``out`` stays open for its owner.

    Few large writes matter: object-storage file objects wrap every call to ``write``.
    """

    CHUNK = 1 << 20

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._parts: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        self._parts.append(data)
        self._size += len(data)
        if self._size >= self.CHUNK:
            self.flush()

    def write_text(self, text: str) -> None:
        self.write(text.encode("utf-8"))

    def flush(self) -> None:
        self._out.write(b"".join(self._parts))
        self._parts.clear()
        self._size = 0


@contextlib.contextmanager
def _sink(out: IO[bytes]) -> Iterator[_Sink]:
    sink = _Sink(out)
    yield sink
    sink.flush()


class _Keys:
    """The keys a stream of contacts has: the documented ones, then others in the order first seen."""

    def __init__(self) -> None:
        self.names: dict[str, None] = dict.fromkeys(CONTACT_KEYS)

    def add(self, contact: Contact) -> None:
        if self.names.keys() >= contact.keys():
            return
        for key in contact:
            self.names.setdefault(key)

    def columns(self, fields: Sequence[str] | None) -> tuple[Column, ...]:
        return columns_of(list(self.names) if fields is None else fields)


def write_jsonl(contacts: Iterable[Contact], out: IO[bytes], fields: Sequence[str] | None = None) -> Written:
    """One JSON object per line."""
    count, keys = 0, _Keys()
    encode = msgspec.json.Encoder().encode
    with _sink(out) as sink:
        for contact in contacts:
            keys.add(contact)
            sink.write(encode(contact) + b"\n")
            count += 1
    return Written(count, keys.columns(fields))


def write_json(contacts: Iterable[Contact], out: IO[bytes], fields: Sequence[str] | None = None) -> Written:
    """A JSON array, one contact per line."""
    count, keys = 0, _Keys()
    encode = msgspec.json.Encoder().encode
    with _sink(out) as sink:
        sink.write(b"[")
        for contact in contacts:
            keys.add(contact)
            sink.write((b",\n" if count else b"\n") + encode(contact))
            count += 1
        sink.write(b"\n]\n" if count else b"]\n")
    return Written(count, keys.columns(fields))


class _Spool:
    """Rows parked in a temporary file while the full column set is learnt."""

    def __init__(self) -> None:
        self._file = tempfile.SpooledTemporaryFile(_SPOOL_IN_MEMORY)  # noqa: SIM115
        self.keys = _Keys()

    def fill(self, contacts: Iterable[Contact]) -> None:
        encode = msgspec.json.Encoder().encode
        for contact in contacts:
            try:
                self._file.write(encode(contact) + b"\n")
            except OSError as error:
                folder = tempfile.gettempdir()
                reason = f"could not park the rows in {folder} while learning the columns: {error.strerror}"
                raise OSError(error.errno, reason, folder) from error
            self.keys.add(contact)

    def rows(self) -> Iterable[Contact]:
        self._file.seek(0)
        decode = msgspec.json.Decoder().decode
        for line in self._file:
            yield decode(line)

    def close(self) -> None:
        self._file.close()


def _with_columns(
    write: Callable[[Iterable[Contact], IO[bytes], Sequence[str]], Written],
) -> Writer:
    def writer(contacts: Iterable[Contact], out: IO[bytes], fields: Sequence[str] | None = None) -> Written:
        if fields is not None:
            return write(contacts, out, fields)
        spool = _Spool()
        try:
            spool.fill(contacts)
            return write(spool.rows(), out, list(spool.keys.names))
        finally:
            spool.close()

    writer.__doc__ = write.__doc__
    return writer


class _TextView:
    """What ``csv.writer`` needs of a text file, over a byte sink."""

    def __init__(self, sink: _Sink) -> None:
        self.write = sink.write_text


def _csv(contacts: Iterable[Contact], out: IO[bytes], columns: Sequence[str]) -> Written:
    """A header row of contact keys, then one row per contact; non-text values as JSON."""
    count = 0
    with _sink(out) as sink:
        rows = csv.writer(_TextView(sink))
        rows.writerow(columns)
        for contact in contacts:
            rows.writerow([cell(contact.get(column)) for column in columns])
            count += 1
    return Written(count, columns_of(columns))


def write_parquet(
    contacts: Iterable[Contact], out: IO[bytes], fields: Sequence[str] | None = None
) -> Written:
    """Typed columns (see ``exports/schema.py``) in row groups; needs pyarrow."""
    from airflow_provider_callbell.exports.parquet import write_typed

    return write_typed(contacts, out, fields)


WRITERS: dict[str, Writer] = {
    "jsonl": write_jsonl,
    "json": write_json,
    "csv": _with_columns(_csv),
    "parquet": write_parquet,
}
