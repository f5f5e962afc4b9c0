"""Reading contact rows back: what the writers wrote, what users write, and what cannot be read."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath

from airflow_provider_callbell.exports import parquet, readers
from airflow_provider_callbell.exports.formats import WRITERS
from airflow_provider_callbell.exports.readers import input_format_of, read_rows
from airflow_provider_callbell.exports.schema import CONTACT_KEYS

CONTACTS: list[dict[str, Any]] = [
    {
        "uuid": "8a9d3e5b1c0f4a7e9b2d6c4f0e1a3b5c",
        "name": "Zoë Martínez",
        "phoneNumber": "+34600000001",
        "createdAt": "2020-11-13T21:08:53Z",
        "tags": ["lead", "vip"],
        "customFields": {"Ciudad": "Málaga", "Plan": "Básico ✓"},
        "team": {"uuid": "t-1", "name": "Ventas España", "default": True},
        "note": None,
        "loyaltyTier": "gold",
        "visits": 3,
    },
    {
        "uuid": "1f2e3d4c5b6a79880716253443526170",
        "name": "李雷",
        "phoneNumber": "+8613800000000",
        "createdAt": "2021-03-01T08:00:00.250000Z",
        "blockedAt": "2021-03-01T09:30:00+01:00",
        "tags": [],
        "customFields": {},
        "channel": {"uuid": "ch-1", "type": "whatsapp"},
    },
]
UNKNOWN_KEYS = ("loyaltyTier", "visits")


def _path(tmp_path: Path, name: str) -> ObjectStoragePath:
    return ObjectStoragePath(f"file://{tmp_path / name}")


def _exported(tmp_path: Path, input_format: str, fields: list[str] | None = None) -> ObjectStoragePath:
    """CONTACTS written by the project's own writer for ``input_format``."""
    name = f"contacts.{input_format}"
    with (tmp_path / name).open("wb") as out:
        WRITERS[input_format](CONTACTS, out, fields)
    return _path(tmp_path, name)


def _file(tmp_path: Path, name: str, data: str | bytes) -> ObjectStoragePath:
    """A file written by hand, as a user would."""
    target = _path(tmp_path, name)
    target.write_bytes(data.encode() if isinstance(data, str) else data)
    return target


def _parquet_file(tmp_path: Path, name: str, table: pa.Table) -> ObjectStoragePath:
    pq.write_table(table, str(tmp_path / name))
    return _path(tmp_path, name)


def _every_column(contact: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    return {column: contact.get(column) for column in columns}


# --- exports read back -------------------------------------------------------------------------------


@pytest.mark.parametrize("input_format", ["jsonl", "json"])
def test_json_exports_read_back_as_the_contacts_were(tmp_path: Path, input_format: str) -> None:
    assert list(read_rows(_exported(tmp_path, input_format), input_format)) == CONTACTS


def test_a_csv_export_reads_back_with_every_column_in_every_row(tmp_path: Path) -> None:
    rows = list(read_rows(_exported(tmp_path, "csv"), "csv"))

    # What CSV cannot hold: a key a contact lacks is an empty cell, so None, in every row; and the
    # values of keys this provider does not document come back as text (JSON text if not a string).
    columns = (*CONTACT_KEYS, *UNKNOWN_KEYS)
    expected = [_every_column(contact, columns) for contact in CONTACTS]
    expected[0]["visits"] = "3"
    assert rows == expected
    assert list(rows[0]) == list(columns)


def test_a_parquet_export_reads_back_with_every_documented_key(tmp_path: Path) -> None:
    rows = list(read_rows(_exported(tmp_path, "parquet"), "parquet"))

    # What Parquet cannot hold: a documented key a contact lacks is a null, so None, in every row
    # (undocumented keys come back from _extra only where the contact had them); and times are
    # UTC microseconds, so an offset comes back as Z.
    expected = [
        _every_column(contact, CONTACT_KEYS) | {key: contact[key] for key in UNKNOWN_KEYS if key in contact}
        for contact in CONTACTS
    ]
    expected[1]["blockedAt"] = "2021-03-01T08:30:00Z"
    assert rows == expected
    assert "_extra" not in rows[0]


def test_a_parquet_projection_reads_back_its_json_columns(tmp_path: Path) -> None:
    fields = ["phoneNumber", "team", "visits"]

    rows = list(read_rows(_exported(tmp_path, "parquet", fields), "parquet"))

    assert rows == [_every_column(contact, tuple(fields)) for contact in CONTACTS]


def test_parquet_is_read_a_batch_at_a_time_with_rows_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parquet, "PARQUET_ROW_GROUP", 2)
    monkeypatch.setattr(readers, "PARQUET_ROW_GROUP", 2)
    contacts = [{"uuid": f"u{index}", "tags": [str(index)]} for index in range(5)]
    with (tmp_path / "contacts.parquet").open("wb") as out:
        WRITERS["parquet"](contacts, out, ["uuid", "tags"])

    assert pq.ParquetFile(tmp_path / "contacts.parquet").num_row_groups == 3
    assert list(read_rows(_path(tmp_path, "contacts.parquet"), "parquet")) == contacts


# --- files users write -------------------------------------------------------------------------------


def test_a_users_csv_decodes_the_json_of_documented_keys_and_keeps_other_columns_as_text(
    tmp_path: Path,
) -> None:
    # as a spreadsheet saves it: a byte order mark, CRLF line ends, a blank line at the end
    text = 'phoneNumber,name,tags,score\r\n+34600000001,Zoë,"[""hot""]",87\r\n+34600000002,,,\r\n\r\n'
    source = _file(tmp_path, "leads.csv", text.encode("utf-8-sig"))

    assert list(read_rows(source, "csv")) == [
        {"phoneNumber": "+34600000001", "name": "Zoë", "tags": ["hot"], "score": "87"},
        {"phoneNumber": "+34600000002", "name": None, "tags": None, "score": None},
    ]


def test_a_users_json_lines_file_keeps_its_values_and_skips_blank_lines(tmp_path: Path) -> None:
    text = (
        '{"phoneNumber": "+34600000001", "score": 87, "ratio": 0.5, "customFields": {"Origen": "Feria"}}\n'
        "\n"
        '{"phoneNumber": "+34600000002", "score": null, "tags": ["cold"]}'
    )

    assert list(read_rows(_file(tmp_path, "leads.jsonl", text), "jsonl")) == [
        {"phoneNumber": "+34600000001", "score": 87, "ratio": 0.5, "customFields": {"Origen": "Feria"}},
        {"phoneNumber": "+34600000002", "score": None, "tags": ["cold"]},
    ]


def test_a_warehouses_parquet_file_reads_as_json_values(tmp_path: Path) -> None:
    table = pa.table(
        {
            "phoneNumber": pa.array(["+34600000001", "+34600000002"]),
            "score": pa.array([87, None], pa.int64()),
            "createdAt": pa.array([1605301733123456789, None], pa.timestamp("ns")),
            "lastSeen": pa.array([1605301733000, 1605301733000], pa.timestamp("ms", tz="Europe/Madrid")),
            "birthday": pa.array([18000, None], pa.date32()),
            "team": pa.array(['{"uuid": "t-1"}', None]),
            "tags": pa.array([["hot"], None], pa.list_(pa.string())),
            "customFields": pa.array([[("Ciudad", "Málaga")], None], pa.map_(pa.string(), pa.string())),
            "nickname": pa.array(['{"not": "decoded"}', ""]),
        }
    )

    rows = list(read_rows(_parquet_file(tmp_path, "leads.parquet", table), "parquet"))

    # naive times are UTC; text of a documented JSON key (team) is decoded, other text is not
    assert rows == [
        {
            "phoneNumber": "+34600000001",
            "score": 87,
            "createdAt": "2020-11-13T21:08:53.123456Z",
            "lastSeen": "2020-11-13T21:08:53Z",
            "birthday": "2019-04-14",
            "team": {"uuid": "t-1"},
            "tags": ["hot"],
            "customFields": {"Ciudad": "Málaga"},
            "nickname": '{"not": "decoded"}',
        },
        {
            "phoneNumber": "+34600000002",
            "score": None,
            "createdAt": None,
            "lastSeen": "2020-11-13T21:08:53Z",
            "birthday": None,
            "team": None,
            "tags": None,
            "customFields": None,
            "nickname": "",
        },
    ]


def test_float32_values_read_as_the_digits_written(tmp_path: Path) -> None:
    from airflow_provider_callbell.upserts.rows import Row

    table = pa.table({"uuid": ["c1", "c2", "c3"], "score": pa.array([0.1, 3.3333333, None], pa.float32())})

    rows = list(read_rows(_parquet_file(tmp_path, "scores.parquet", table), "parquet"))

    assert [row["score"] for row in rows] == [0.1, 3.3333333, None]
    written = Row.of(1, {"uuid": "c1", "customFields": {"score": rows[0]["score"]}}, "uuid").values
    assert written["customFields"] == {"score": "0.1"}


def test_float32_values_inside_lists_maps_and_structs_read_as_the_digits_written(tmp_path: Path) -> None:
    scores = pa.array([[("score", 0.1)], [("score", 2.675)]], pa.map_(pa.string(), pa.float32()))
    history = pa.array([[0.1, None, 3.3333333], None], pa.list_(pa.float32()))
    nested = pa.struct([("best", pa.float32()), ("all", pa.list_(pa.float32()))])
    table = pa.table(
        {
            "uuid": ["c1", "c2"],
            "customFields": scores,
            "history": history,
            "ranks": pa.array([{"best": 0.7, "all": [0.7, 0.1]}, None], nested),
        }
    )

    rows = list(read_rows(_parquet_file(tmp_path, "nested.parquet", table), "parquet"))

    assert [row["customFields"] for row in rows] == [{"score": 0.1}, {"score": 2.675}]
    assert [row["history"] for row in rows] == [[0.1, None, 3.3333333], None]
    assert [row["ranks"] for row in rows] == [{"best": 0.7, "all": [0.7, 0.1]}, None]


def test_a_plain_local_path_reads_too(tmp_path: Path) -> None:
    source = ObjectStoragePath(str(tmp_path / "leads.jsonl"))
    source.write_bytes(b'{"phoneNumber": "+34600000001"}\n')

    assert list(read_rows(source, "jsonl")) == [{"phoneNumber": "+34600000001"}]


# --- empty inputs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [("empty.jsonl", ""), ("empty.json", "[]\n"), ("empty.csv", "phoneNumber,score\r\n")],
)
def test_a_file_without_rows_yields_none(tmp_path: Path, name: str, data: str) -> None:
    source = _file(tmp_path, name, data)

    assert list(read_rows(source, input_format_of(name, None))) == []


def test_a_parquet_export_of_no_contacts_yields_none(tmp_path: Path) -> None:
    with (tmp_path / "empty.parquet").open("wb") as out:
        WRITERS["parquet"]([], out, None)

    assert list(read_rows(_path(tmp_path, "empty.parquet"), "parquet")) == []


# --- what cannot be read -----------------------------------------------------------------------------

FIRST = '{"phoneNumber": "+34600000001"}'
SECRET = "+34600000002"


UNREADABLE = [
    ("rows.jsonl", f'{FIRST}\n["{SECRET}"]\n', "line 2: Expected `object`, got `array`"),
    ("rows.jsonl", f'{FIRST}\n{{"phoneNumber": {SECRET}}}\n', "line 2: JSON is malformed"),
    ("rows.json", f'[\n{FIRST},\n{{"phoneNumber": {SECRET}}}\n]\n', "line 3: JSON is malformed"),
    ("rows.json", f'[\n{FIRST},\n"{SECRET}"\n]\n', "row 2: Expected `object`, got `str`"),
    (
        "rows.json",
        f'{{"phoneNumber": "{SECRET}"}}',
        "the top-level array: Expected `array`, got `object`",
    ),
    (
        "rows.json",
        f'[\n{FIRST},\n{{"phoneNumber": "{SECRET}"',
        "the top-level array: Input data was truncated",
    ),
    (
        "rows.csv",
        f'phoneNumber,tags\r\n+34600000001,"[""hot""]"\r\n{SECRET},"[""hot"""\r\n',
        "line 3, column tags: Input data was truncated",
    ),
    (
        "rows.csv",
        f"phoneNumber,customFields\r\n{SECRET},[]\r\n",
        "line 2, column customFields: Expected `object | null`, got `array`",
    ),
    (
        "rows.csv",
        f"phoneNumber,name\r\n+34600000001,Zoë\r\n{SECRET},Ana,x\r\n",
        "line 3: 3 cells, but the header row names 2 columns",
    ),
    (
        "rows.csv",
        f"phoneNumber,name\r\n{SECRET}\r\n",
        "line 2: 1 cells, but the header row names 2 columns",
    ),
    (
        "rows.csv",
        f"phoneNumber,name,phoneNumber\r\n{SECRET},Ana,x\r\n",
        "line 1: the header row names phoneNumber more than once",
    ),
    (
        "rows.jsonl",
        f'{FIRST}\n{{"phoneNumber": "+34600000001", "phoneNumber": "{SECRET}"}}\n',
        "line 2: an object names 'phoneNumber' more than once",
    ),
    (
        "rows.json",
        f'[{FIRST}, {{"to": "{SECRET}", "metadata": {{"k": "a", "k": "b"}}}}]',
        "row 2: an object names 'k' more than once",
    ),
    (
        "rows.csv",
        f'phoneNumber,customFields\r\n{SECRET},"{{""score"": ""1"", ""score"": ""2""}}"\r\n',
        "line 2, column customFields: an object names 'score' more than once",
    ),
    ("rows.csv", "", "no header row"),
    ("rows.csv", "\r\n\r\n", "no header row"),
    (
        "rows.csv",
        f"phoneNumber,name\r\n{SECRET},Jos\xe9\r\n".encode("latin-1"),
        "line 2: is not UTF-8 text",
    ),
    ("rows.parquet", f"{FIRST}\n", "is not a readable Parquet file"),
    ("rows.parquet", "", "is not a readable Parquet file"),
]


@pytest.mark.parametrize(("name", "data", "problem"), UNREADABLE)
def test_what_cannot_be_read_names_the_file_and_line_but_no_value(
    tmp_path: Path, name: str, data: str | bytes, problem: str
) -> None:
    source = _file(tmp_path, name, data)

    with pytest.raises(ValueError, match=r"^file://\S+/rows\.\w+: ") as caught:
        list(read_rows(source, input_format_of(name, None)))

    assert problem in str(caught.value)
    assert str(tmp_path) in str(caught.value)
    assert SECRET not in str(caught.value)
    assert "José" not in str(caught.value)


def test_parquet_errors_count_rows_across_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers, "PARQUET_ROW_GROUP", 2)
    team = pa.array(['{"uuid": "t-1"}', None, None, f'{{"uuid": {SECRET}}}'])
    source = _parquet_file(tmp_path, "leads.parquet", pa.table({"team": team}))

    with pytest.raises(ValueError, match=r"leads\.parquet: row 4, column team: JSON is malformed") as caught:
        list(read_rows(source, "parquet"))

    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ('{"phoneNumber": "+34600000002"}', "row 1: _extra repeats the columns phoneNumber"),
        ('["+34600000002"]', "row 1, column _extra: Expected `object | null`, got `array`"),
    ],
)
def test_a_parquet_extra_column_must_hold_other_keys(tmp_path: Path, extra: str, problem: str) -> None:
    table = pa.table({"phoneNumber": ["+34600000001"], "_extra": pa.array([extra], pa.json_())})
    source = _parquet_file(tmp_path, "leads.parquet", table)

    with pytest.raises(ValueError, match=problem) as caught:
        list(read_rows(source, "parquet"))

    assert SECRET not in str(caught.value)


def test_parquet_columns_and_map_keys_named_twice_are_refused(tmp_path: Path) -> None:
    twice = pa.table([pa.array(["+34600000001"]), pa.array([SECRET])], names=["to", "to"])
    fields = pa.array([[("score", "1"), ("score", SECRET)]], pa.map_(pa.string(), pa.string()))
    category = pa.array(['{"score": "1", "score": "2"}']).dictionary_encode()  # a pandas category
    cases = [
        (twice, "names the columns to more than once"),
        (pa.table({"to": [SECRET], "customFields": fields}), "rows 1 to 1, column customFields: a map names"),
        (pa.table({"to": [SECRET], "customFields": category}), "row 1, column customFields: an object names"),
    ]
    for table, problem in cases:
        with pytest.raises(ValueError, match=problem) as caught:
            list(read_rows(_parquet_file(tmp_path, "leads.parquet", table), "parquet"))
        assert SECRET not in str(caught.value)


def test_parquet_input_without_pyarrow_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _exported(tmp_path, "parquet")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)

    with pytest.raises(ImportError, match=r"Parquet input needs pyarrow: pip install .*\[parquet\]"):
        list(read_rows(source, "parquet"))


# --- streaming ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "first", "bad_line"),
    [
        ("rows.jsonl", f"{FIRST}\n{FIRST}\nnot json\n", {"phoneNumber": "+34600000001"}, 3),
        (
            "rows.csv",
            "phoneNumber,tags\r\n+34600000001,[]\r\n+34600000001,[]\r\n,[not json\r\n",
            {"phoneNumber": "+34600000001", "tags": []},
            4,
        ),
    ],
)
def test_rows_come_out_before_the_rest_of_the_file_is_read(
    tmp_path: Path, name: str, data: str, first: dict[str, Any], bad_line: int
) -> None:
    rows = read_rows(_file(tmp_path, name, data), input_format_of(name, None))

    assert next(rows) == first
    assert next(rows) == first
    with pytest.raises(ValueError, match=f": line {bad_line}[:,] "):
        next(rows)


# --- input formats -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "input_format", "expected"),
    [
        ("s3://bucket/contacts.jsonl", None, "jsonl"),
        ("s3://bucket/contacts.NDJSON", None, "jsonl"),
        ("/data/contacts.json", None, "json"),
        ("/data/contacts.csv", None, "csv"),
        ("/data/contacts.parquet", None, "parquet"),
        ("/data/contacts.txt", "csv", "csv"),
    ],
)
def test_the_input_format_is_given_or_the_suffix_names_it(
    path: str, input_format: str | None, expected: str
) -> None:
    assert input_format_of(path, input_format) == expected


def test_an_unknown_input_format_names_the_allowed_ones() -> None:
    with pytest.raises(
        ValueError, match=r"^input_format must be one of jsonl, json, csv, parquet or None, got 'xlsx'$"
    ):
        input_format_of("/data/contacts.xlsx", "xlsx")


def test_a_path_whose_suffix_names_no_format_asks_for_input_format() -> None:
    with pytest.raises(
        ValueError,
        match=r"^input_format is not set and the suffix of input_path '/data/contacts.txt' names no format: "
        r"use one of \.jsonl, \.ndjson, \.json, \.csv, \.parquet, "
        r"or set input_format to one of jsonl, json, csv, parquet$",
    ):
        input_format_of("/data/contacts.txt", None)


def test_read_rows_refuses_an_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="input_format must be one of"):
        next(read_rows(_file(tmp_path, "leads.txt", "x"), "txt"))


def test_csv_tags_may_be_comma_separated_text(tmp_path: Path) -> None:
    rows = read_rows(_file(tmp_path, "rows.csv", 'phoneNumber,tags\r\n+34600000001,"hot,vip"\r\n'), "csv")

    assert list(rows) == [{"phoneNumber": "+34600000001", "tags": "hot,vip"}]
