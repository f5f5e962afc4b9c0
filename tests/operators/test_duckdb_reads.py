"""Exports read by DuckDB, as a consumer would: typed Parquet, and the same rows in every format.

One sandbox account, exported once in each format by the operator in real DAG runs, carries
what could break a typed file: tags, blocked and closed dates (with offsets and fractions of a
second), custom fields (with commas, quotes, newlines, a number), field types, teams and
channels, an ``assignedUser`` that is an object, and fields Callbell does not document.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from airflow_provider_callbell.exports.schema import cell
from airflow_provider_callbell.operators.contacts import CallbellListContactsOperator
from airflow_provider_callbell.sandbox import CallbellSandbox
from airflow_provider_callbell.sandbox.catalog import field_types_metadata
from tests.conftest import SandboxFactory, connect
from tests.dag_runs import DagResult, run_task

pytestmark = pytest.mark.usefixtures("airflow_db")

Row = dict[str, Any]
TIMESTAMP = "TIMESTAMP WITH TIME ZONE"
#: The Parquet schema as DuckDB describes it, whatever Callbell sends.
PARQUET_SCHEMA = [
    ("uuid", "VARCHAR"),
    ("name", "VARCHAR"),
    ("phoneNumber", "VARCHAR"),
    ("avatarUrl", "VARCHAR"),
    ("createdAt", TIMESTAMP),
    ("source", "VARCHAR"),
    ("href", "VARCHAR"),
    ("conversationHref", "VARCHAR"),
    ("tags", "VARCHAR[]"),
    ("assignedUser", "VARCHAR"),
    ("customFields", "MAP(VARCHAR, VARCHAR)"),
    ("customFieldsMetadata", "JSON"),
    ("blockedAt", TIMESTAMP),
    ("closedAt", TIMESTAMP),
    ("funnelId", "VARCHAR"),
    ("team", "JSON"),
    ("channel", "JSON"),
    ("bsuid", "VARCHAR"),
    ("note", "VARCHAR"),
    ("_extra", "JSON"),
]
DOCUMENTED = PARQUET_SCHEMA[:-1]
KNOWN = [name for name, _ in DOCUMENTED]
UNKNOWN = ("loyaltyTier", "score")
NASTY = 'Bianchi, "Gigi"\nsecond line, ünïcode'
FORMATS = ("jsonl", "json", "csv", "parquet")


@dataclass
class Exports:
    sandbox: CallbellSandbox
    files: dict[str, Path]

    @property
    def parquet(self) -> Path:
        return self.files["parquet"]

    @property
    def newest(self) -> str:
        """The uuid of the contact added with every kind of value set."""
        return str(self.sandbox.contacts()[0]["uuid"])


def fill(sandbox: CallbellSandbox) -> None:
    """Put on the seeded account what its seed leaves rare or out."""
    seeded = sandbox.contacts()
    sales = next(team for team in sandbox.teams if team["name"] == "Sales")
    sandbox.add_contact(
        name=NASTY,
        tags=["lead", "VIP", "événement"],
        createdAt="2024-03-01T10:00:00.5+02:00",
        blockedAt="2024-03-02T00:00:00Z",
        closedAt="2024-03-03T12:30:00-05:00",
        customFields={"Address": NASTY, "Plan": "Pro", "Orders": 12},
        assignedUser={"email": "giulia.rossi@example.com", "name": "Giulia"},
        team=sales,
        note="",
        loyaltyTier="gold",
        score=7,
    )
    for number, contact in enumerate(seeded[:40:4]):
        sandbox.update_contact(
            contact["uuid"],
            blockedAt=f"2025-0{number % 9 + 1}-15 08:30:00.123456+01:00",
            loyaltyTier=("silver", "bronze")[number % 2],
        )


def run(tmp_path: Path, **kwargs: Any) -> DagResult:
    return run_task(CallbellListContactsOperator, kwargs, tmp_path)


@pytest.fixture(scope="module")
def exports(airflow_db: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exports]:
    """The account, and its export with field types in every format, one DAG run each."""
    tmp_path = tmp_path_factory.mktemp("exports")
    with CallbellSandbox(contacts=230, seed=5) as sandbox, pytest.MonkeyPatch.context() as monkeypatch:
        connect(monkeypatch, sandbox, max_requests_per_second=2000)
        fill(sandbox)
        files = {fmt: tmp_path / f"contacts.{fmt}" for fmt in FORMATS}
        for fmt, target in files.items():
            result = run(tmp_path / fmt, output_path=str(target), include_field_types=True)
            assert result.returned == {"path": str(target), "count": 231, "format": fmt}
        yield Exports(sandbox, files)


def query(sql: str, *params: Any) -> list[Row]:
    """Rows as dicts, in UTC; JSON values parsed, so that any spelling of a value compares equal."""
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        result = con.execute(sql, list(params))
        names = [column[0] for column in result.description]
        json_columns = {column[0] for column in result.description if column[1] == "JSON"}
        return [
            {
                name: json.loads(value) if name in json_columns and value is not None else value
                for name, value in zip(names, row, strict=True)
            }
            for row in result.fetchall()
        ]


def describe(path: Path) -> list[tuple[str, str]]:
    return [
        (row["column_name"], row["column_type"]) for row in query("DESCRIBE FROM read_parquet(?)", str(path))
    ]


def parquet_rows(path: Path) -> list[Row]:
    return query("SELECT * FROM read_parquet(?)", str(path))


def json_value(name: str, kind: str) -> str:
    if kind == "VARCHAR":
        return f"json ->> '{name}'"
    if kind == TIMESTAMP:
        return f"CAST(json ->> '{name}' AS {kind})"
    return f"CAST(json -> '{name}' AS {kind})"


def json_rows(path: Path, layout: str) -> list[Row]:
    """A JSON file's contacts typed as the Parquet columns, unknown keys gathered into ``_extra``."""
    typed = ", ".join(f'{json_value(name, kind)} AS "{name}"' for name, kind in DOCUMENTED)
    known = ", ".join(f"'{name}'" for name in KNOWN)
    extra = (
        "(SELECT json_group_object(k, json -> k) FROM unnest(json_keys(json)) AS t(k) "
        f"WHERE k NOT IN ({known}))"
    )
    sql = f"SELECT {typed}, {extra} AS _extra FROM read_json_objects(?, format = '{layout}')"
    return query(sql, str(path))


def csv_value(name: str, kind: str) -> str:
    if kind in ("VARCHAR", TIMESTAMP):
        return f'CAST("{name}" AS {kind})'
    return f'CAST(CAST("{name}" AS JSON) AS {kind})'


def csv_rows(path: Path) -> list[Row]:
    """A CSV file's rows typed as the Parquet columns; its unknown columns gathered into ``_extra``."""
    typed = ", ".join(f'{csv_value(name, kind)} AS "{name}"' for name, kind in DOCUMENTED)
    extra = "json_object(" + ", ".join(f"'{name}', \"{name}\"" for name in UNKNOWN) + ")"
    sql = f"SELECT {typed}, {extra} AS _extra FROM read_csv(?, all_varchar = true, header = true)"
    rows = query(sql, str(path))
    for row in rows:
        row["_extra"] = {key: value for key, value in row["_extra"].items() if value is not None} or None
    return rows


def as_csv(row: Row) -> Row:
    """What CSV can say of a typed row: an empty text is an empty cell (null), unknown values text."""
    kinds = dict(PARQUET_SCHEMA)
    shown = {name: None if kinds[name] == "VARCHAR" and value == "" else value for name, value in row.items()}
    if row["_extra"] is not None:
        shown["_extra"] = {key: cell(value) for key, value in row["_extra"].items()}
    return shown


def moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def expected_row(contact: Row) -> Row:
    """A sandbox contact (with field types) as the Parquet file should type it, worked out here."""
    contact = {**contact, "customFieldsMetadata": field_types_metadata(contact.get("customFields") or {})}
    row: Row = {name: cell(contact.get(name)) for name, kind in PARQUET_SCHEMA if kind == "VARCHAR"}
    row |= {name: moment(contact.get(name)) for name, kind in PARQUET_SCHEMA if kind == TIMESTAMP}
    row |= {name: contact.get(name) for name in ("tags", "customFieldsMetadata", "team", "channel")}
    fields = contact.get("customFields")
    row["customFields"] = None if fields is None else {key: cell(value) for key, value in fields.items()}
    row["_extra"] = {key: value for key, value in contact.items() if key not in KNOWN} or None
    return {name: row[name] for name, _ in PARQUET_SCHEMA}


def test_parquet_columns_are_typed(exports: Exports) -> None:
    assert describe(exports.parquet) == PARQUET_SCHEMA


def test_parquet_holds_every_contact_with_its_values_typed(exports: Exports) -> None:
    rows = parquet_rows(exports.parquet)

    assert rows == [expected_row(contact) for contact in exports.sandbox.contacts()]
    assert sum(row["blockedAt"] is not None for row in rows) >= 11
    assert sum(row["closedAt"] is not None for row in rows) > 50
    assert sum(row["_extra"] is not None for row in rows) == 11


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_every_format_reads_as_the_parquet(exports: Exports, fmt: str) -> None:
    parquet = parquet_rows(exports.parquet)

    if fmt == "csv":
        assert csv_rows(exports.files[fmt]) == [as_csv(row) for row in parquet]
    else:
        layout = "newline_delimited" if fmt == "jsonl" else "array"
        assert json_rows(exports.files[fmt], layout) == parquet


def where(exports: Exports, condition: str) -> set[str]:
    """The uuids of the Parquet rows meeting a DuckDB condition."""
    rows = query(f"SELECT uuid FROM read_parquet(?) WHERE {condition}", str(exports.parquet))
    return {row["uuid"] for row in rows}


def having(exports: Exports, test: Callable[[Row], bool]) -> set[str]:
    """The uuids of the sandbox's contacts passing a Python test."""
    return {contact["uuid"] for contact in exports.sandbox.contacts() if test(contact)}


def test_duckdb_finds_a_tag_in_the_list(exports: Exports) -> None:
    vip = where(exports, "list_contains(tags, 'VIP')")

    assert vip == having(exports, lambda c: "VIP" in (c.get("tags") or []))
    assert exports.newest in vip


def test_duckdb_reads_nested_fields(exports: Exports) -> None:
    channel = exports.sandbox.contacts()[1]["channel"]["uuid"]

    sales = where(exports, "team ->> 'name' = 'Sales'")
    on_channel = where(exports, f"channel ->> 'uuid' = '{channel}'")
    pro = where(exports, "customFields['Plan'] = 'Pro'")
    numbers = where(exports, "customFieldsMetadata -> 'Orders' ->> 'type' = 'number'")

    assert sales == having(exports, lambda c: (c.get("team") or {}).get("name") == "Sales")
    assert on_channel == having(exports, lambda c: (c.get("channel") or {}).get("uuid") == channel)
    assert pro == having(exports, lambda c: (c.get("customFields") or {}).get("Plan") == "Pro")
    assert numbers == having(exports, lambda c: "Orders" in (c.get("customFields") or {}))
    assert exports.newest in sales & pro & numbers
    assert where(exports, "customFields['Orders'] = '12'") >= {exports.newest}
    assert where(exports, "TRY_CAST(assignedUser AS JSON) ->> 'name' = 'Giulia'") == {exports.newest}


def test_duckdb_compares_times_in_utc(exports: Exports) -> None:
    def blocked_after_creation(contact: Row) -> bool:
        blocked, created = moment(contact.get("blockedAt")), moment(contact.get("createdAt"))
        return blocked is not None and created is not None and blocked > created

    since_2025 = where(exports, "blockedAt >= TIMESTAMPTZ '2025-01-01 00:00:00+00'")

    assert where(exports, "createdAt = TIMESTAMPTZ '2024-03-01 08:00:00.5+00'") == {exports.newest}
    assert where(exports, "closedAt = TIMESTAMPTZ '2024-03-03 17:30:00+00'") == {exports.newest}
    assert since_2025 == having(exports, lambda c: str(c.get("blockedAt") or "").startswith("2025"))
    assert len(since_2025) == 10
    assert where(exports, "blockedAt > createdAt") == having(exports, blocked_after_creation)


def test_duckdb_reads_fields_callbell_added(exports: Exports) -> None:
    sql = (
        "SELECT _extra ->> 'loyaltyTier' AS tier, CAST(_extra -> 'score' AS INTEGER) AS score "
        "FROM read_parquet(?) WHERE uuid = ?"
    )

    assert query(sql, str(exports.parquet), exports.newest) == [{"tier": "gold", "score": 7}]
    silver = where(exports, "_extra ->> 'loyaltyTier' = 'silver'")
    assert silver == having(exports, lambda c: c.get("loyaltyTier") == "silver")
    assert len(silver) == 5


def test_the_schema_is_the_same_whatever_fields_callbell_sends(
    exports: Exports, sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox_factory(contacts=20, seed=3)
    target = tmp_path / "plain.parquet"

    run(tmp_path, output_path=str(target))

    assert describe(target) == describe(exports.parquet)
    assert query("SELECT count(*) AS n FROM read_parquet(?) WHERE _extra IS NOT NULL", str(target)) == [
        {"n": 0}
    ]


def test_fields_are_exactly_the_columns_each_with_its_type(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(contacts=30, seed=4)
    sandbox.add_contact(name="Zoë", loyaltyTier="gold", closedAt="2026-01-02T03:04:05+01:00")
    target = tmp_path / "contacts.parquet"
    fields = ["uuid", "closedAt", "tags", "customFields", "team", "loyaltyTier", "name"]

    run(tmp_path, output_path=str(target), fields=", ".join(fields))

    assert describe(target) == [
        ("uuid", "VARCHAR"),
        ("closedAt", TIMESTAMP),
        ("tags", "VARCHAR[]"),
        ("customFields", "MAP(VARCHAR, VARCHAR)"),
        ("team", "JSON"),
        ("loyaltyTier", "JSON"),
        ("name", "VARCHAR"),
    ]
    expected = [
        {name: expected_row(c)[name] if name in KNOWN else c.get(name) for name in fields}
        for c in sandbox.contacts()
    ]
    assert parquet_rows(target) == expected
    assert expected[0]["loyaltyTier"] == "gold"


def test_a_time_that_does_not_parse_fails_the_export_naming_contact_and_field(
    sandbox_factory: SandboxFactory, tmp_path: Path, logs: Callable[[], str]
) -> None:
    sandbox = sandbox_factory(contacts=30, seed=2)
    typo = sandbox.add_contact(name="Typo", closedAt="13/11/2020 10:00")
    target = tmp_path / "exports" / "contacts.parquet"
    target.parent.mkdir()
    target.write_bytes(b"yesterday's file")

    result = run(tmp_path, output_path=str(target))

    assert result.state == "failed"
    assert target.read_bytes() == b"yesterday's file"
    assert [path.name for path in target.parent.iterdir()] == ["contacts.parquet"]
    assert f"Contact '{typo['uuid']}': closedAt '13/11/2020 10:00' is not an ISO 8601 time" in logs()
