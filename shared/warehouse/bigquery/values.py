"""Python values to and from BigQuery: typed query parameters, JSON rows to write, rows read back."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from google.cloud import bigquery

from shared.schema import ColumnType, Table
from shared.warehouse import QueryParams, is_null

Parameter = bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter

_ARRAY_TYPE = re.compile(r"^ARRAY<(\w+)>$")
_SCALAR_TYPES = frozenset({"STRING", "INT64", "FLOAT64", "BOOL", "DATE", "TIMESTAMP"})
_ARROW_TYPES: dict[str, pa.DataType] = {
    "STRING": pa.string(),
    "INTEGER": pa.int64(),
    "INT64": pa.int64(),
    "FLOAT": pa.float64(),
    "FLOAT64": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "BOOL": pa.bool_(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
}
_NULLABLE_TYPES: dict[pa.DataType, Any] = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
_NUMPY_WHEN_COMPLETE: dict[str, np.dtype[Any]] = {"Int64": np.dtype("int64"), "boolean": np.dtype("bool")}


# -- parameters ---------------------------------------------------------------------------------------


def parameters(declared: Mapping[str, str], values: QueryParams) -> list[Parameter]:
    """Typed from the statement's ``-- params:`` header, so that a NULL still has its type."""
    out: list[Parameter] = []
    for name, kind in declared.items():
        value = values[name]
        array = _ARRAY_TYPE.match(kind)
        if array:
            element = array.group(1)
            _check_type(name, element)
            items = [] if value is None else [_scalar(name, element, v) for v in value]
            out.append(bigquery.ArrayQueryParameter(name, element, items))
        else:
            _check_type(name, kind)
            out.append(bigquery.ScalarQueryParameter(name, kind, _scalar(name, kind, value)))
    return out


def untyped_parameter(name: str, value: Any) -> Parameter:
    """For ad-hoc SQL without a header: the type follows the Python value."""
    if isinstance(value, list | tuple):
        kind = _kind_of(value[0]) if value else "STRING"
        return bigquery.ArrayQueryParameter(name, kind, [_scalar(name, kind, v) for v in value])
    kind = _kind_of(value)
    return bigquery.ScalarQueryParameter(name, kind, _scalar(name, kind, value))


def _check_type(name: str, kind: str) -> None:
    if kind not in _SCALAR_TYPES:
        raise ValueError(f"parameter @{name}: unsupported type {kind}")


def _scalar(name: str, kind: str, value: Any) -> Any:
    """A Python value the client serializes as `kind`; refuses values of another kind."""
    if is_null(value):
        return None
    if isinstance(value, Enum):
        value = value.value
    try:
        if kind == "STRING":
            if not isinstance(value, str):
                raise TypeError
            return str(value)
        if kind == "INT64":
            if isinstance(value, bool | float) or not isinstance(value, int | np.integer):
                raise TypeError
            return int(value)
        if kind == "FLOAT64":
            if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
                raise TypeError
            return float(value)
        if kind == "BOOL":
            if not isinstance(value, bool | np.bool_):
                raise TypeError
            return bool(value)
        if kind == "DATE":
            if isinstance(value, datetime):
                return value.date()
            if isinstance(value, date):
                return value
            if isinstance(value, np.datetime64):
                return pd.Timestamp(value).date()
            return date.fromisoformat(value)
        if kind == "TIMESTAMP":
            stamp = value if isinstance(value, datetime) else pd.Timestamp(value).to_pydatetime()
            # Naive timestamps are UTC here, as in DuckDB's TIMESTAMPTZ columns of this schema.
            return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"parameter @{name} is declared {kind} but got {value!r}") from exc
    raise ValueError(f"parameter @{name}: unsupported type {kind}")  # pragma: no cover


def _kind_of(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "BOOL"
    if isinstance(value, int | np.integer):
        return "INT64"
    if isinstance(value, float | np.floating):
        return "FLOAT64"
    if isinstance(value, datetime):
        return "TIMESTAMP"
    if isinstance(value, date):
        return "DATE"
    return "STRING"


# -- rows written -------------------------------------------------------------------------------------


def _json_value(column_type: ColumnType, value: Any) -> Any:
    """A schema-typed cell as the JSON the streaming and load APIs take."""
    if is_null(value):
        return None
    if isinstance(value, Enum):
        value = value.value
    if column_type is ColumnType.DATE:
        if isinstance(value, datetime):  # includes pd.Timestamp
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        return pd.Timestamp(value).date().isoformat()
    if column_type is ColumnType.TIMESTAMP:
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
        return stamp.isoformat()
    if column_type is ColumnType.INT64:
        return int(value)
    if column_type is ColumnType.FLOAT64:
        number = float(value)
        return None if math.isinf(number) else number
    if column_type is ColumnType.BOOL:
        return bool(value)
    return str(value)


def json_rows(spec: Table, rows: Iterable[Mapping[Any, Any]]) -> list[dict[str, Any]]:
    """The rows as JSON of the table's columns; refuses them all, as DuckDB's NOT NULL does, if one
    lacks a required column, before anything reaches the server."""
    records = [{c.name: _json_value(c.type, row.get(c.name)) for c in spec.columns} for row in rows]
    required = [c.name for c in spec.columns if c.required]
    for record in records:
        empty = [name for name in required if record.get(name) is None]
        if empty:
            raise ValueError(f"{spec.name}: rows lack required columns {empty}")
    return records


# -- rows read ----------------------------------------------------------------------------------------


def _arrow_type(field: bigquery.SchemaField) -> pa.DataType:
    if field.field_type in {"RECORD", "STRUCT"}:
        kind: pa.DataType = pa.struct([pa.field(f.name, _arrow_type(f)) for f in field.fields])
    else:
        kind = _ARROW_TYPES[field.field_type]
    return pa.list_(kind) if field.mode == "REPEATED" else kind


def arrow_table(schema: Sequence[bigquery.SchemaField], rows: list[dict[str, Any]]) -> pa.Table:
    """Rows read through the REST API (Python values) as an Arrow table of the result's schema."""
    return pa.Table.from_pylist(rows, schema=pa.schema([pa.field(f.name, _arrow_type(f)) for f in schema]))


def frame(arrow: pa.Table) -> pd.DataFrame:
    """Query rows with the dtypes DuckDbWarehouse returns, so the services see one set of dtypes.

    DATE becomes datetime64[us]; INT64 and BOOL are numpy int64/bool unless the column holds a
    NULL, where both adapters return pandas' nullable Int64/boolean; TIMESTAMP is
    datetime64[us, UTC]. Dates stay `date` inside arrays and structs, as DuckDB returns them there.
    """
    out: pd.DataFrame = arrow.to_pandas(types_mapper=_NULLABLE_TYPES.get)
    for column, kind in zip(out.columns, arrow.schema.types, strict=True):
        series = out[column]
        if pa.types.is_date(kind):
            out[column] = series.astype(np.dtype("datetime64[us]"))
        elif str(series.dtype) in _NUMPY_WHEN_COMPLETE and not series.isna().any():
            out[column] = series.astype(_NUMPY_WHEN_COMPLETE[str(series.dtype)])
    return out
