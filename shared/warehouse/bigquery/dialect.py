"""BigQuery's dialect of the schema and SQL: DDL, table schemas, qualified views, keyed copies."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import sqlglot
from google.cloud import bigquery
from sqlglot import exp

from shared.schema import Column, ColumnType, Table
from shared.sql import SqlStatement
from shared.warehouse.bigquery.values import Parameter

# The legacy type names BigQuery's tables API and Terraform answer with.
_JSON_TYPES = {
    ColumnType.STRING: "STRING",
    ColumnType.INT64: "INTEGER",
    ColumnType.FLOAT64: "FLOAT",
    ColumnType.BOOL: "BOOLEAN",
    ColumnType.DATE: "DATE",
    ColumnType.TIMESTAMP: "TIMESTAMP",
}


def create_table_ddl(spec: Table, dataset: str) -> str:
    """``CREATE TABLE IF NOT EXISTS``, partitioned and clustered; no PRIMARY KEY clause: BigQuery
    would not enforce it, and the writers keep keys unique."""
    lines = [f"  {c.name} {c.type.value}{' NOT NULL' if c.required else ''}" for c in spec.columns]
    ddl = f"CREATE TABLE IF NOT EXISTS `{dataset}.{spec.name}` (\n" + ",\n".join(lines) + "\n)"
    if spec.partition_by:
        if spec.partition_granularity == "DAY":
            ddl += f"\nPARTITION BY {spec.partition_by}"
        else:
            ddl += f"\nPARTITION BY DATE_TRUNC({spec.partition_by}, {spec.partition_granularity})"
    if spec.cluster_by:
        ddl += f"\nCLUSTER BY {', '.join(spec.cluster_by)}"
    options = [f'description = "{spec.description}"']
    if spec.require_partition_filter:
        options.append("require_partition_filter = TRUE")
    ddl += f"\nOPTIONS ({', '.join(options)})"
    return ddl


def schema_field(column: Column) -> bigquery.SchemaField:
    return bigquery.SchemaField(
        column.name, column.type.value, mode="REQUIRED" if column.required else "NULLABLE"
    )


def json_schema(spec: Table) -> list[dict[str, str]]:
    """The table's schema as the BigQuery JSON that Terraform's ``google_bigquery_table`` takes."""
    return [
        {
            "name": c.name,
            "type": _JSON_TYPES[c.type],
            "mode": "REQUIRED" if c.required else "NULLABLE",
            "description": c.description,
        }
        for c in spec.columns
    ]


def qualify_tables(stmt: SqlStatement, *, project: str, dataset: str, known: Iterable[str]) -> str:
    """The statement's SQL with every table written as `project`.`dataset`.table.

    A BigQuery view cannot use a default dataset, so view files (which, like every statement, name
    tables unqualified) are qualified when a view is created: by BigQueryWarehouse with the real
    names, by deploy/generate_schemas.py with Terraform placeholders. `known` are the schema's
    table names; a reference to anything else (or an already qualified one) is refused.
    """
    tables = set(known)
    tree = sqlglot.parse_one(stmt.bigquery, read="bigquery")
    for ref in tree.find_all(exp.Table):
        if ref.db:
            raise ValueError(f"{stmt.name}.sql names {ref.sql('bigquery')}; leave tables unqualified")
        if ref.name not in tables:
            raise ValueError(f"{stmt.name}.sql reads {ref.name}, which shared/schema.py does not define")
        ref.set("db", exp.to_identifier(dataset, quoted=True))
        ref.set("catalog", exp.to_identifier(project, quoted=True))
    return tree.sql(dialect="bigquery", pretty=True)


def copy_new_keys(spec: Table, target: str, staging: str, rows: pd.DataFrame) -> tuple[str, list[Parameter]]:
    """INSERT the staged rows whose key is not in the table yet (identifiers from the schema only).

    Existing keys are looked for in every partition: a key's partition date can change (a postponed
    game keeps its game_id), and the row stored first must win wherever it lies. Two cases narrow
    the search to the loaded rows' partitions: a partition column that is part of the key (a key
    then lives in one partition only), and a table with ``require_partition_filter``, where
    BigQuery refuses a query without such a filter; there keep-the-first holds only within the
    loaded date range, so such a table's key must determine its date (``predictions_raw``: the
    prediction id names the batch, and a batch is one date).
    """
    columns = ", ".join(spec.column_names)
    keys = spec.primary_key or tuple(spec.column_names)
    match = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    params: list[Parameter] = []
    if spec.partition_by and (spec.require_partition_filter or spec.partition_by in keys):
        days = pd.to_datetime(rows[spec.partition_by])
        params = [
            bigquery.ScalarQueryParameter("first_day", "DATE", days.min().date()),
            bigquery.ScalarQueryParameter("last_day", "DATE", days.max().date()),
        ]
        match += f" AND t.{spec.partition_by} BETWEEN @first_day AND @last_day"
    sql = (
        f"INSERT INTO `{target}` ({columns})\n"
        f"SELECT {columns} FROM `{staging}` AS s\n"
        f"WHERE NOT EXISTS (SELECT 1 FROM `{target}` AS t WHERE {match})"
    )
    return sql, params
