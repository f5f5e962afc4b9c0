"""Streaming readers of contact rows: JSON Lines, JSON, CSV and Parquet, as the writers write them.

Rows read back from an export, or from a file a user or a warehouse wrote, look the same in
every format: a dict of contact keys to the Python values the JSON export would hold. Tags are
a list, ``customFields``, ``team``, ``channel`` and ``customFieldsMetadata`` dicts, times ISO 8601
strings in UTC ending in ``Z``, numbers numbers, nulls ``None``.

* JSON Lines and JSON: objects as they are.
* CSV: every cell is text, an empty cell ``None``; cells of the documented keys whose kind is
  not text or a time (``tags``, ``customFields``, ``team``, ``channel``...) hold JSON and are
  decoded when they open as JSON does (``[``, ``{``, ``"`` or ``null``); other text in them is
  left for the row's reader (comma-separated tags, a team uuid, a message row's channel type).
  Other columns (a user's ``score``) stay text: CSV does not say which text is a number.
* Parquet: typed values (``float32`` ones, in lists, maps and structs too, as the shortest
  decimal they hold: ``0.1``, not ``0.10000000149011612``); timestamps (any unit and zone,
  naive ones taken as UTC) and dates as ISO 8601 text, maps as dicts, JSON columns decoded (as
  are plain text columns of the documented JSON keys, which a warehouse may write), and
  ``_extra``'s keys merged into the row.

The file is read a row at a time (a batch at a time for Parquet), except a JSON array: with no
streaming JSON parser installed, its bytes are read whole, though its rows are still decoded one
at a time. A line holds at most 64 MiB, so that a file without line breaks is not held whole. Text
is UTF-8, a byte order mark at its start dropped. A row that cannot be read raises
:class:`ValueError` naming the file, the line or row and the column or key, never a value: rows
hold personal data. :class:`InputFile` reads an operator's ``input_path`` as often as it asks,
each time from the file it checked.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import struct
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import IO, TYPE_CHECKING, Any

import msgspec

from airflow_provider_callbell.arguments import RepeatedNameError, json_without_repeats
from airflow_provider_callbell.exports.formats import PARQUET_ROW_GROUP, format_of
from airflow_provider_callbell.exports.schema import EXTRA, Kind, column_of

if TYPE_CHECKING:
    import pyarrow as pa
    from airflow.providers.common.compat.sdk import ObjectStoragePath

Row = dict[str, Any]
Decoder = msgspec.json.Decoder[Any]

#: What the JSON text of each kind decodes to: the shapes the typed columns of ``schema.py`` take.
_ANY_JSON: Decoder = msgspec.json.Decoder()
#: Tags in a CSV cell may also be comma-separated text, as people write them by hand.
_JSON_DECODERS: dict[Kind, Decoder] = {
    Kind.TEXT_LIST: msgspec.json.Decoder(list[Any] | None),
    Kind.TEXT_MAP: msgspec.json.Decoder(dict[str, Any] | None),
    Kind.OBJECT: _ANY_JSON,
    Kind.EXTRA: msgspec.json.Decoder(dict[str, Any] | None),
}
_OBJECT: Decoder = msgspec.json.Decoder(dict[str, Any])
_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])
_AT_BYTE = re.compile(r"\(byte (\d+)\)")
#: A \u escape of a first half of a character with no second half after it (msgspec calls that
#: "Input data was truncated"); an escaped backslash before it is no escape.
_LONE_SURROGATE = re.compile(
    rb"(?<!\\)(?:\\\\)*\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
)
#: A row holds one contact or message, far shorter; a longer line (a file with no line breaks, a
#: stream) would be held whole in memory.
MAX_LINE_BYTES = 64 * 1024 * 1024
_READ_SIZE = 1024 * 1024
#: Separators a CSV header row may be written with by mistake: it then reads as one column.
_OTHER_SEPARATORS = (";", "\t", "|")


def input_format_of(path: str, input_format: str | None) -> str:
    """The input format: ``input_format`` if given, else the path's suffix (as the export names them)."""
    return format_of(path, input_format, side="input")


class InputFile:
    """The rows of the file ``input_path`` names, read afresh at each call: the operators read it
    twice, a pass to check the rows, one to act on them.

    The file is checked when this is made (it exists, is a regular file, its filesystem is
    installed), and every pass, before it starts and once it is done, finds the file as it was
    then, or fails: a file rewritten between the passes would be acted on unchecked. ``keys`` are
    the columns rows are matched on (see :func:`read_rows`).
    """

    def __init__(
        self, path: str, conn_id: str | None, input_format: str | None, keys: tuple[str, ...] = ()
    ) -> None:
        from airflow.providers.common.compat.sdk import ObjectStoragePath

        self.path = path
        self.source = ObjectStoragePath(path, conn_id=conn_id)
        self.input_format = input_format_of(path, input_format)
        self.keys = keys
        self._state = self._current_state()

    def __call__(self) -> Iterator[Row]:
        """The rows, one at a time; the file was found unchanged before this returns."""
        self._check_unchanged()
        return self._rows()

    def _rows(self) -> Iterator[Row]:
        yield from read_rows(self.source, self.input_format, self.keys)
        self._check_unchanged()

    def _current_state(self) -> tuple[object, ...]:
        from airflow_provider_callbell.exports.storage import source_state

        return source_state(self.source, self.path, "input_path")

    def _check_unchanged(self) -> None:
        if self._current_state() != self._state:
            raise ValueError(
                f"input_path {self.path!r} changed while it was read: write it atomically or copy it first"
            )


def read_rows(source: ObjectStoragePath, input_format: str, keys: tuple[str, ...] = ()) -> Iterator[Row]:
    """The rows of ``source`` in ``input_format`` (one of ``formats.FORMATS``), one at a time.

    The file stays open until the rows are exhausted or the generator is closed. ``source`` is
    the task's ``input_path``: a missing filesystem for its scheme, or no file to read there,
    fails naming it. ``keys`` are the columns rows are matched on: CSV or Parquet columns naming
    none of them, but one spelt otherwise (``UUID``) or run together (``uuid;note``), fail.
    """
    from airflow_provider_callbell.exports.storage import source_state

    source_state(source, str(source), "input_path")
    read = _READERS[input_format_of(str(source), input_format)]
    with source.open("rb") as file:  # type: ignore[no-untyped-call]
        yield from read(file, str(source), keys)


def _decoded(decoder: Decoder, data: str | bytes, path: str, where: str) -> Any:
    """``data`` decoded; malformed JSON, JSON of the wrong shape or nested too deeply, or an
    object naming a key twice, fails naming ``path`` and ``where``."""
    try:
        decoded = decoder.decode(data)
        json_without_repeats(data)
    except msgspec.DecodeError as error:  # msgspec names types and offsets, not values
        raise ValueError(f"{path}: {where}: {_problem(data, error)}") from None
    except RecursionError:
        raise ValueError(f"{path}: {where}: nested too deeply") from None
    except RepeatedNameError as error:
        raise ValueError(f"{path}: {where}: an object {error}") from None
    return decoded


def _problem(data: str | bytes, error: msgspec.DecodeError) -> str:
    """What msgspec found wrong with ``data``, said plainly where it says it vaguely."""
    raw = data.encode() if isinstance(data, str) else data
    if _not_utf8(raw):
        return "is not UTF-8 text"
    if _lone_surrogate(raw, error):
        return "JSON is malformed: a \\u escape holds half a character (a lone surrogate)"
    return str(error)


def _lone_surrogate(data: bytes, error: msgspec.DecodeError) -> re.Match[bytes] | None:
    """The escape msgspec took for the end of ``data``, if that is what it meant."""
    return _LONE_SURROGATE.search(data) if str(error) == "Input data was truncated" else None


def _not_utf8(data: bytes) -> bool:
    """Whether ``data`` is not UTF-8 text; NUL bytes, which no JSON holds but UTF-16 text does, count."""
    if b"\x00" in data:
        return True
    try:
        data.decode()
    except UnicodeDecodeError:
        return True
    return False


def _json_text(decoder: Decoder, text: str | None, path: str, where: str) -> Any:
    """A cell holding JSON text, decoded; an empty cell is ``None``."""
    return _decoded(decoder, text, path, where) if text else None


def _json_or_text(decoder: Decoder, text: str | None, path: str, where: str) -> Any:
    """A text cell of a documented JSON key: its JSON when it opens as JSON does, else its text."""
    if text and text.lstrip()[:1] not in ("[", "{", '"') and text.strip() != "null":
        return text
    return _json_text(decoder, text, path, where)


class _Raw(io.RawIOBase):
    """``file`` as raw bytes to buffer: object-storage files read, but take no limit on a line."""

    def __init__(self, file: IO[bytes]) -> None:
        super().__init__()
        self._file = file

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._file.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _lines(file: IO[bytes], path: str) -> Iterator[bytes]:
    """The file's lines, a UTF-8 byte order mark dropped from the first; a line longer than
    :data:`MAX_LINE_BYTES` fails naming it."""
    reader = io.BufferedReader(_Raw(file), _READ_SIZE)
    number = 0
    while line := reader.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            raise ValueError(
                f"{path}: line {number} is longer than {MAX_LINE_BYTES // 1024 // 1024} MiB: "
                "a line holds one row; is this a file of rows?"
            )
        yield line.removeprefix(codecs.BOM_UTF8) if number == 1 else line


def _jsonl_rows(file: IO[bytes], path: str, keys: tuple[str, ...]) -> Iterator[Row]:
    """One JSON object per line; blank lines are skipped. ``keys`` are not checked: JSON has no header."""
    for number, line in enumerate(_lines(file, path), 1):
        if not line.isspace():
            yield _decoded(_OBJECT, line, path, f"line {number}")


def _json_rows(file: IO[bytes], path: str, keys: tuple[str, ...]) -> Iterator[Row]:
    """A JSON array of objects: its bytes read whole, its rows decoded one at a time."""
    data = file.read().removeprefix(codecs.BOM_UTF8)
    try:
        items = _ARRAY.decode(data)
    except msgspec.DecodeError as error:
        raise ValueError(f"{path}: {_where_in(data, error)}: {_problem(data, error)}") from None
    except RecursionError:
        raise ValueError(f"{path}: the top-level array: nested too deeply") from None
    for number, item in enumerate(items, 1):
        yield _decoded(_OBJECT, bytes(item), path, f"row {number}")


def _where_in(data: bytes, error: msgspec.DecodeError) -> str:
    """The line of the byte ``error`` names (or of a lone surrogate), or, if none, the whole array."""
    at = _AT_BYTE.search(str(error))
    offset = int(at[1]) if at else None
    if offset is None and (lone := _lone_surrogate(data, error)):
        offset = lone.start()
    if offset is None:
        return "the top-level array"
    newlines = data.count(b"\n", 0, offset)
    return f"line {newlines + 1}"


def _csv_rows(file: IO[bytes], path: str, keys: tuple[str, ...]) -> Iterator[Row]:
    """A header row of column names, then a row of cells per line; see the module's docstring."""
    records = _csv_records(_text_lines(file, path), path)
    first = next(records, None)
    if first is None:
        raise ValueError(f"{path}: no header row: a CSV input starts with a line of column names")
    number, header = first
    _check_keys(header, keys, f"{path}: line {number}")
    columns = _csv_columns(number, header, path)
    for number, cells in records:
        yield _csv_row(columns, cells, path, number)


def _text_lines(file: IO[bytes], path: str) -> Iterator[str]:
    """The file's lines, each decoded from UTF-8 on its own so that an error names its line."""
    for line in _lines(file, path):
        yield line.decode("utf-8")


def _check_keys(names: list[str], keys: tuple[str, ...], where: str) -> None:
    """Refuse column ``names`` holding none of ``keys``, the columns rows are matched on, but one
    spelt otherwise or run together with other names: every row would fail for want of it, and
    the column at fault would go unnamed."""
    if not keys or any(key in names for key in keys):
        return
    plain = {_plain(key): key for key in keys}
    for name in names:
        if _plain(name) in plain:
            raise ValueError(
                f"{where}: the column {name!r} is not {plain[_plain(name)]!r}, the column rows are matched "
                "on: column names are read as written (case, spaces and byte order marks count)"
            )
        for separator in _OTHER_SEPARATORS:
            key = next((plain[_plain(part)] for part in name.split(separator) if _plain(part) in plain), None)
            if key is not None:
                raise ValueError(
                    f"{where}: the column {name!r} runs {key!r} together with other names: columns are "
                    f"separated by commas, not {separator!r}"
                )


def _plain(name: str) -> str:
    return name.replace("\ufeff", "").strip().casefold()


def _csv_records(lines: Iterator[str], path: str) -> Iterator[tuple[int, list[str]]]:
    """``(line, cells)`` of each non-blank record, counting every record from 1; errors name the line."""
    number = 0
    try:
        for number, cells in enumerate(csv.reader(lines), 1):
            if cells:
                yield number, cells
    except csv.Error as error:
        raise ValueError(f"{path}: line {number + 1}: {error}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: line {number + 1}: is not UTF-8 text") from None


def _csv_columns(number: int, header: list[str], path: str) -> list[tuple[str, Decoder | None]]:
    """Each column's name and the decoder of its JSON cells, ``None`` for a column of text."""
    if _repeated(header):
        raise ValueError(
            f"{path}: line {number}: the header row names {', '.join(_repeated(header))} more than once"
        )
    return [(name, _JSON_DECODERS.get(column_of(name).kind)) for name in header]


def _repeated(names: list[str]) -> list[str]:
    return sorted({name for name in names if names.count(name) > 1})


def _csv_row(columns: list[tuple[str, Decoder | None]], cells: list[str], path: str, number: int) -> Row:
    if len(cells) != len(columns):
        raise ValueError(
            f"{path}: line {number}: {len(cells)} cells, but the header row names {len(columns)} columns"
        )
    return {
        name: _csv_cell(decoder, text, path, number, name)
        for (name, decoder), text in zip(columns, cells, strict=True)
    }


def _csv_cell(decoder: Decoder | None, text: str, path: str, number: int, name: str) -> Any:
    """``None`` for an empty cell, else its text, or in a JSON column the JSON it holds."""
    if decoder is None:
        return text or None
    return _json_or_text(decoder, text, path, f"line {number}, column {name}")


def _parquet_rows(file: IO[bytes], path: str, keys: tuple[str, ...]) -> Iterator[Row]:
    """Typed rows a batch at a time; ``_extra``'s keys merged into the row."""
    number = 0
    for batch in _parquet_batches(file, path):
        names = batch.schema.names
        _check_keys(names, keys, path)
        if _repeated(names):
            raise ValueError(f"{path}: names the columns {', '.join(_repeated(names))} more than once")
        columns = [
            _parquet_values(batch.column(index), name, path, number + 1) for index, name in enumerate(names)
        ]
        for values in zip(*columns, strict=True):
            number += 1
            yield _with_extra(dict(zip(names, values, strict=True)), path, number)


def _parquet_batches(file: IO[bytes], path: str) -> Iterator[pa.RecordBatch]:
    """The file's record batches; a file that is not Parquet, or is damaged, fails naming ``path``."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as error:
        raise ImportError(
            "Parquet input needs pyarrow: pip install 'airflow-provider-callbell[parquet]'"
        ) from error
    try:
        yield from pq.ParquetFile(file).iter_batches(batch_size=PARQUET_ROW_GROUP)
    except pa.ArrowException as error:
        raise ValueError(f"{path}: is not a readable Parquet file: {error}") from None


def _parquet_values(column: pa.Array, name: str, path: str, first: int) -> list[Any]:
    """A column's values as the JSON export holds them; ``first`` is the row number of the first."""
    import pyarrow as pa

    kind = EXTRA.kind if name == EXTRA.name else column_of(name).kind
    if pa.types.is_dictionary(column.type):  # a category column: read as the values it encodes
        column = column.dictionary_decode()
    if pa.types.is_timestamp(column.type):
        return [
            _utc_text(moment) for moment in column.cast(pa.timestamp("us", tz="UTC"), safe=False).to_pylist()
        ]
    if pa.types.is_date(column.type):
        return [_date_text(day) for day in column.to_pylist()]
    is_text = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    if isinstance(column.type, pa.JsonType) or (is_text and kind in _JSON_DECODERS):
        decoder = _JSON_DECODERS.get(kind, _ANY_JSON)
        read = _json_text if isinstance(column.type, pa.JsonType) else _json_or_text
        return [
            read(decoder, text, path, f"row {number}, column {name}")
            for number, text in enumerate(column.to_pylist(), first)
        ]
    try:
        values: list[Any] = column.to_pylist(maps_as_pydicts="strict")
    except KeyError:
        raise ValueError(
            f"{path}: rows {first} to {first + len(column) - 1}, column {name}: a map names a key more "
            "than once: which of its values counts is not said"
        ) from None
    if _holds_float32(column.type):
        return [_written_digits(value, column.type) for value in values]
    return values


def _holds_float32(kind: pa.DataType) -> bool:
    import pyarrow as pa

    if pa.types.is_float32(kind):
        return True
    return any(_holds_float32(kind.field(index).type) for index in range(kind.num_fields))


def _written_digits(value: Any, kind: pa.DataType) -> Any:
    """``value`` with its float32 numbers, at any depth, as the shortest decimal each holds: as a
    float64, the float32 nearest 0.1 is 0.10000000149011612."""
    import pyarrow as pa

    if value is None:
        return None
    if pa.types.is_float32(kind):
        return _shortest_float32(value)
    if pa.types.is_map(kind):
        return {
            _written_digits(key, kind.key_type): _written_digits(item, kind.item_type)
            for key, item in value.items()
        }
    if pa.types.is_struct(kind):
        return {field.name: _written_digits(value[field.name], field.type) for field in kind}
    if isinstance(value, list):
        return [_written_digits(item, kind.value_type) for item in value]
    return value


def _shortest_float32(number: float) -> float:
    for digits in range(1, 10):
        shortest = float(f"{number:.{digits}g}")
        if struct.unpack("f", struct.pack("f", shortest))[0] == number:
            return shortest
    return number  # nan and the infinities


def _utc_text(moment: datetime | None) -> str | None:
    """An aware time as Callbell writes one: ``2020-11-13T21:08:53Z``, microseconds only when set."""
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def _date_text(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _with_extra(row: Row, path: str, number: int) -> Row:
    """The row with the keys of its ``_extra`` object in place of ``_extra``."""
    extra = row.pop(EXTRA.name, None)
    if extra:
        repeated = extra.keys() & row.keys()
        if repeated:
            raise ValueError(
                f"{path}: row {number}: {EXTRA.name} repeats the columns {', '.join(sorted(repeated))}"
            )
        row.update(extra)
    return row


_READERS: dict[str, Callable[[IO[bytes], str, tuple[str, ...]], Iterator[Row]]] = {
    "jsonl": _jsonl_rows,
    "json": _json_rows,
    "csv": _csv_rows,
    "parquet": _parquet_rows,
}
