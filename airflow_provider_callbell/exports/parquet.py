"""The Parquet writer: typed columns, one schema for every run, in row groups.

Imported only when a Parquet file is written: it loads pyarrow.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import IO, Any

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError as error:  # pragma: no cover - pyarrow is installed wherever the tests run
    raise ImportError(
        "Parquet output needs pyarrow: pip install 'airflow-provider-callbell[parquet]'"
    ) from error

from airflow_provider_callbell.exports.formats import PARQUET_ROW_GROUP, Contact, Written
from airflow_provider_callbell.exports.schema import Column, Kind, RowTyper, typed_columns

#: Arrow types of each kind; JSON is Arrow's canonical extension, Parquet's JSON logical type.
ARROW_TYPES: dict[Kind, pa.DataType] = {
    Kind.TEXT: pa.string(),
    Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    Kind.TEXT_LIST: pa.list_(pa.string()),
    Kind.TEXT_MAP: pa.map_(pa.string(), pa.string()),
    Kind.OBJECT: pa.json_(),
    Kind.ANY: pa.json_(),
    Kind.EXTRA: pa.json_(),
}


def arrow_schema(columns: Sequence[Column]) -> pa.Schema:
    """The Arrow schema of these columns."""
    return pa.schema([pa.field(column.name, ARROW_TYPES[column.kind]) for column in columns])


def write_typed(contacts: Iterable[Contact], out: IO[bytes], fields: Sequence[str] | None) -> Written:
    """Contacts as typed columns (``fields``, else every documented key and ``_extra``)."""
    columns = typed_columns(fields)
    schema = arrow_schema(columns)
    typer = RowTyper(columns)
    count = 0
    contacts = iter(contacts)
    with pq.ParquetWriter(out, schema) as parquet:
        while rows := [typer.row(contact) for contact in itertools.islice(contacts, PARQUET_ROW_GROUP)]:
            parquet.write_table(_row_group(rows, schema))
            count += len(rows)
        if count == 0:
            parquet.write_table(schema.empty_table())
    return Written(count, columns)


def _row_group(rows: list[list[Any]], schema: pa.Schema) -> pa.Table:
    arrays = [
        pa.array(cells, type=field.type) for cells, field in zip(zip(*rows, strict=True), schema, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=schema)
