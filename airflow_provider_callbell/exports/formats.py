"""Streaming writers of contacts: JSON Lines, JSON, CSV and Parquet.

Each writer takes contacts one at a time and holds at most a row group in memory. CSV and
Parquet need their columns before the first row: the ``fields`` projection when given, else
the documented contact keys plus any others the stream brings, found by spooling the rows to a
temporary file first.
"""

from __future__ import annotations

import contextlib
import csv
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import PurePosixPath
from typing import IO, Any

import msgspec

FORMATS = ("jsonl", "json", "csv", "parquet")
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet"}

CONTACT_KEYS = (
    "uuid",
    "name",
    "phoneNumber",
    "avatarUrl",
    "createdAt",
    "source",
    "href",
    "conversationHref",
    "tags",
    "assignedUser",
    "customFields",
    "customFieldsMetadata",
    "blockedAt",
    "closedAt",
    "funnelId",
    "team",
    "channel",
    "bsuid",
    "note",
)

PARQUET_ROW_GROUP = 10_000
_SPOOL_IN_MEMORY = 8 * 1024 * 1024

Contact = dict[str, Any]
Writer = Callable[[Iterable[Contact], IO[bytes], Sequence[str] | None], int]


def format_of(path: str, output_format: str | None) -> str:
    """The output format: ``output_format`` if given, else the path's suffix."""
    if output_format is not None:
        if output_format not in FORMATS:
            allowed = ", ".join(FORMATS)
            raise ValueError(f"output_format must be one of {allowed} or None, got {output_format!r}")
        return output_format
    suffix = PurePosixPath(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(
            f"output_format is not set and the suffix of output_path {path!r} names no format: use one of "
            f"{', '.join(SUFFIXES)}, or set output_format to one of {', '.join(FORMATS)}"
        )
    return SUFFIXES[suffix]


def cell(value: Any) -> str | None:
    """A contact value as one text cell: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return msgspec.json.encode(value).decode("utf-8")


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


def write_jsonl(contacts: Iterable[Contact], out: IO[bytes], columns: Sequence[str] | None = None) -> int:
    """One JSON object per line."""
    count = 0
    encode = msgspec.json.Encoder().encode
    with _sink(out) as sink:
        for contact in contacts:
            sink.write(encode(contact) + b"\n")
            count += 1
    return count


def write_json(contacts: Iterable[Contact], out: IO[bytes], columns: Sequence[str] | None = None) -> int:
    """A JSON array, one contact per line."""
    count = 0
    encode = msgspec.json.Encoder().encode
    with _sink(out) as sink:
        sink.write(b"[")
        for contact in contacts:
            sink.write((b",\n" if count else b"\n") + encode(contact))
            count += 1
        sink.write(b"\n]\n" if count else b"]\n")
    return count


class _Spool:
    """Rows parked in a temporary file while the full column set is learnt."""

    def __init__(self) -> None:
        self._file = tempfile.SpooledTemporaryFile(_SPOOL_IN_MEMORY)  # noqa: SIM115
        self.columns: dict[str, None] = dict.fromkeys(CONTACT_KEYS)

    def fill(self, contacts: Iterable[Contact]) -> None:
        encode = msgspec.json.Encoder().encode
        for contact in contacts:
            self._file.write(encode(contact) + b"\n")
            for key in contact:
                if key not in self.columns:
                    self.columns[key] = None

    def rows(self) -> Iterable[Contact]:
        self._file.seek(0)
        decode = msgspec.json.Decoder().decode
        for line in self._file:
            yield decode(line)

    def close(self) -> None:
        self._file.close()


def _with_columns(
    write: Callable[[Iterable[Contact], IO[bytes], Sequence[str]], int],
) -> Writer:
    def writer(contacts: Iterable[Contact], out: IO[bytes], columns: Sequence[str] | None = None) -> int:
        if columns is not None:
            return write(contacts, out, columns)
        spool = _Spool()
        try:
            spool.fill(contacts)
            return write(spool.rows(), out, list(spool.columns))
        finally:
            spool.close()

    writer.__doc__ = write.__doc__
    return writer


class _TextView:
    """What ``csv.writer`` needs of a text file, over a byte sink."""

    def __init__(self, sink: _Sink) -> None:
        self.write = sink.write_text


def _csv(contacts: Iterable[Contact], out: IO[bytes], columns: Sequence[str]) -> int:
    """A header row of contact keys, then one row per contact; nested values as JSON."""
    count = 0
    with _sink(out) as sink:
        rows = csv.writer(_TextView(sink))
        rows.writerow(columns)
        for contact in contacts:
            rows.writerow([cell(contact.get(column)) for column in columns])
            count += 1
    return count


def _parquet(contacts: Iterable[Contact], out: IO[bytes], columns: Sequence[str]) -> int:
    """Text columns named after contact keys (nested values as JSON), in row groups."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as error:
        raise ImportError(
            "Parquet output needs pyarrow: pip install 'airflow-provider-callbell[parquet]'"
        ) from error

    schema = pa.schema([(column, pa.string()) for column in columns])
    count = 0
    with pq.ParquetWriter(out, schema) as parquet:
        batch: dict[str, list[str | None]] = {column: [] for column in columns}
        for contact in contacts:
            for column in columns:
                batch[column].append(cell(contact.get(column)))
            count += 1
            if count % PARQUET_ROW_GROUP == 0:
                parquet.write_table(pa.table(batch, schema=schema))
                batch = {column: [] for column in columns}
        if count % PARQUET_ROW_GROUP or count == 0:
            parquet.write_table(pa.table(batch, schema=schema))
    return count


WRITERS: dict[str, Writer] = {
    "jsonl": write_jsonl,
    "json": write_json,
    "csv": _with_columns(_csv),
    "parquet": _with_columns(_parquet),
}
