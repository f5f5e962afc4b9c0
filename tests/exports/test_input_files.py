"""Input files that are no file of rows, change while read, or are written oddly: clear errors."""

from __future__ import annotations

import codecs
import importlib
import importlib.util
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath
from fsspec.implementations.memory import MemoryFileSystem  # type: ignore[import-untyped]

from airflow_provider_callbell.exports import readers
from airflow_provider_callbell.exports.readers import InputFile, input_format_of, read_rows

UUID = "8a9d3e5b1c0f4a7e9b2d6c4f0e1a3b5c"
ROW = f'{{"uuid": "{UUID}"}}'
SECRET = "+34600000002"


def _rows(path: Path, keys: tuple[str, ...] = ()) -> list[dict[str, object]]:
    return list(read_rows(ObjectStoragePath(str(path)), input_format_of(str(path), None), keys))


def _memory() -> MemoryFileSystem:
    """Object storage without a server: fsspec's in-memory file system, attached as Airflow's ``memory``."""
    store = "airflow.sdk.io.store" if importlib.util.find_spec("airflow.sdk") else "airflow.io.store"
    fs = MemoryFileSystem()
    importlib.import_module(store).attach("memory", fs=fs)
    return fs


# --- no file of rows ---------------------------------------------------------------------------------


def _directory(path: Path) -> None:
    path.mkdir()


def _link_to_nothing(path: Path) -> None:
    path.symlink_to(path.parent / "gone.jsonl")


def _loop(path: Path) -> None:
    path.symlink_to(path)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (
            _directory,
            "names a directory: it must name the file to read, such as .*/rows.jsonl/contacts.jsonl",
        ),
        (lambda path: None, "names nothing: it must name the file to read"),
        (_link_to_nothing, "names a symbolic link to nothing"),
        (_loop, "names a loop of symbolic links"),
        (_fifo, "names a FIFO, a device or a socket: it must name a regular file"),
    ],
    ids=["directory", "missing", "dangling link", "link loop", "fifo"],
)
def test_an_input_path_naming_no_file_fails_naming_it(tmp_path: Path, make: object, problem: str) -> None:
    path = tmp_path / "rows.jsonl"
    make(path)  # type: ignore[operator]

    with pytest.raises(ValueError, match=f"^input_path '{path}' {problem}"):
        InputFile(str(path), None, None)
    with pytest.raises(ValueError, match=f"^input_path '{path}' {problem}"):
        _rows(path)


def test_a_device_is_refused_rather_than_read_for_ever() -> None:
    with pytest.raises(ValueError, match=r"^input_path '/dev/zero' names a FIFO, a device or a socket"):
        InputFile("/dev/zero", None, "jsonl")


def test_an_object_that_is_missing_or_a_prefix_fails_naming_it() -> None:
    fs = _memory()
    fs.pipe("/bucket/folder/rows.jsonl", ROW.encode())

    with pytest.raises(ValueError, match=r"^input_path 'memory://bucket/none.jsonl' names nothing"):
        InputFile("memory://bucket/none.jsonl", None, None)
    with pytest.raises(ValueError, match=r"^input_path 'memory://bucket/folder' names a directory"):
        InputFile("memory://bucket/folder", None, "jsonl")


def test_a_line_longer_than_the_limit_fails_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 2**20)
    path = tmp_path / "rows.jsonl"
    fits = '{"note": "' + "a" * (2**20 - 12) + '"}'  # 1 MiB with its line break
    path.write_text(f"{fits}\n{fits}\n" + '{"note": "' + "x" * 2**21 + '"}\n')

    rows = read_rows(ObjectStoragePath(str(path)), "jsonl")

    assert [len(next(rows)["note"]), len(next(rows)["note"])] == [2**20 - 12] * 2
    with pytest.raises(ValueError, match=r"rows\.jsonl: line 3 is longer than 1 MiB: a line holds one row"):
        next(rows)


# --- files that change while read --------------------------------------------------------------------


def _rewrite(path: Path) -> None:
    path.write_text(f"{ROW}\n{{bad\n")


def _replace(path: Path) -> None:
    other = path.with_name("new.jsonl")
    other.write_text(f"{ROW}\n")
    other.replace(path)


def _same_size_later(path: Path) -> None:
    path.write_text(path.read_text().replace("8a9d", "9a9d"))
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))


@pytest.mark.parametrize("change", [_rewrite, _replace, _same_size_later])
def test_a_file_changed_between_passes_fails_before_the_second(tmp_path: Path, change: object) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(f"{ROW}\n")
    read = InputFile(str(path), None, None)
    assert list(read()) == [{"uuid": UUID}]

    change(path)  # type: ignore[operator]

    with pytest.raises(
        ValueError,
        match=f"^input_path '{path}' changed while it was read: write it atomically or copy it first",
    ):
        read()


def test_a_file_changed_during_a_pass_fails_at_its_end(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(f"{ROW}\n{ROW}\n")
    rows = InputFile(str(path), None, None)()
    assert next(rows) == {"uuid": UUID}

    with path.open("a") as more:
        more.write(f"{ROW}\n")

    with pytest.raises(ValueError, match="changed while it was read"):
        list(rows)


def test_an_unchanged_file_reads_the_same_every_pass(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(f"uuid,note\r\n{UUID},hi\r\n")
    read = InputFile(f"file://{path}", None, None, ("uuid",))

    assert list(read()) == list(read()) == [{"uuid": UUID, "note": "hi"}]


def test_an_object_rewritten_between_passes_fails() -> None:
    fs = _memory()
    fs.pipe("/bucket/rows.jsonl", f"{ROW}\n".encode())
    read = InputFile("memory://bucket/rows.jsonl", None, None)
    assert list(read()) == [{"uuid": UUID}]

    fs.pipe("/bucket/rows.jsonl", f"{ROW}\n{ROW}\n".encode())

    with pytest.raises(
        ValueError, match=r"^input_path 'memory://bucket/rows.jsonl' changed while it was read"
    ):
        read()


# --- encodings, nesting ------------------------------------------------------------------------------

DEEP = "{" + '"a": {' * 1000 + "}" * 1001


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("rows.jsonl", f'{{"uuid": "{UUID}", "customFields": {DEEP}}}\n', "line 1: nested too deeply"),
        (
            "rows.json",
            f'[{{"uuid": "{UUID}", "customFields": {DEEP}}}]',
            "the top-level array: nested too deeply",
        ),
        ("rows.json", "[" * 1000 + "]" * 1000, "the top-level array: nested too deeply"),
        (
            "rows.csv",
            'uuid,customFields\r\n{},"{}"\r\n'.format(UUID, DEEP.replace('"', '""')),
            "line 2, column customFields: nested too deeply",
        ),
        ("rows.jsonl", f"{ROW}\n".encode("utf-16"), "line 1: is not UTF-8 text"),
        ("rows.jsonl", f"{ROW}\n".encode("utf-16-le"), "line 1: is not UTF-8 text"),
        ("rows.json", f"[{ROW}]".encode("utf-16"), "line 1: is not UTF-8 text"),
        ("rows.jsonl", f'{ROW}\n{{"note": "Jos\xe9"}}\n'.encode("latin-1"), "line 2: is not UTF-8 text"),
        (
            "rows.jsonl",
            f'{ROW}\n{{"note": "{SECRET}\\ud800"}}\n',
            "line 2: JSON is malformed: a \\\\u escape holds half a character",
        ),
        (
            "rows.json",
            f'[\n{ROW},\n{{"note": "{SECRET}\\ud800"}}\n]',
            "line 3: JSON is malformed: a \\\\u escape holds half a character",
        ),
    ],
    ids=[
        "jsonl nested",
        "json nested",
        "array nested",
        "csv cell nested",
        "utf-16 jsonl",
        "utf-16-le jsonl",
        "utf-16 json",
        "latin-1 jsonl",
        "lone surrogate jsonl",
        "lone surrogate json",
    ],
)
def test_what_cannot_be_read_says_why_naming_the_line(
    tmp_path: Path, name: str, data: str | bytes, problem: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)

    with pytest.raises(ValueError, match=f"rows.{path.suffix[1:]}: {problem}") as caught:
        _rows(path)

    assert SECRET not in str(caught.value)


def test_nesting_that_python_reads_is_read(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    nested = "{" + '"a": {' * 200 + "}" * 201
    path.write_text(f'{{"uuid": "{UUID}", "customFields": {nested}}}\n')

    (row,) = _rows(path)

    assert row["uuid"] == UUID


@pytest.mark.parametrize("name", ["rows.jsonl", "rows.json", "rows.csv"])
def test_a_utf8_byte_order_mark_is_dropped_in_every_text_format(tmp_path: Path, name: str) -> None:
    text = {"rows.jsonl": f"{ROW}\n", "rows.json": f"[{ROW}]", "rows.csv": f"uuid\r\n{UUID}\r\n"}[name]
    path = tmp_path / name
    path.write_bytes(codecs.BOM_UTF8 + text.encode())

    assert _rows(path, ("uuid",)) == [{"uuid": UUID}]


# --- headers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "keys", "problem"),
    [
        ("UUID,note", ("uuid",), "'UUID' is not 'uuid', the column rows are matched on: column names"),
        (" uuid ,note", ("uuid",), "' uuid ' is not 'uuid'"),
        ("\ufeffuuid,note", ("uuid",), "'\\\\ufeffuuid' is not 'uuid'"),
        ("note,PhoneNumber", ("phoneNumber",), "'PhoneNumber' is not 'phoneNumber'"),
        ("To,text", ("to", "phoneNumber"), "'To' is not 'to'"),
        ("uuid;note", ("uuid",), "'uuid;note' runs 'uuid' together with other names: .* not ';'"),
        ("note\tUUID", ("uuid",), "'note\\\\tUUID' runs 'uuid' together .* not '\\\\t'"),
    ],
)
def test_a_csv_header_missing_the_match_column_but_spelling_it_otherwise_is_refused(
    tmp_path: Path, header: str, keys: tuple[str, ...], problem: str
) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(codecs.BOM_UTF8 + f"{header}\r\n{SECRET},x\r\n".encode())

    with pytest.raises(ValueError, match=f"rows.csv: line 1: the column {problem}") as caught:
        _rows(path, keys)

    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("header", "keys"),
    [("UUID,uuid", ("uuid",)), ("phoneNumber,UUID", ("phoneNumber",)), ("name,note", ("uuid",))],
    ids=["the key is there too", "another key", "no variant: each row says it lacks one"],
)
def test_other_headers_read_as_they_are(tmp_path: Path, header: str, keys: tuple[str, ...]) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(f"{header}\r\na,b\r\n")

    assert _rows(path, keys) == [dict(zip(header.split(","), ["a", "b"], strict=True))]


def test_a_parquet_column_spelling_the_match_column_otherwise_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"UUID": [UUID], "NOTE": ["x"]}), path)

    with pytest.raises(ValueError, match=r"rows.parquet: the column 'UUID' is not 'uuid'"):
        _rows(path, ("uuid",))
