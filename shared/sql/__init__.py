"""SQL source of truth: BigQuery Standard SQL files, one statement each, with declared parameters."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

import sqlglot
from sqlglot import exp

_PARAMS_LINE = re.compile(r"^--\s*params:(.*)$", re.MULTILINE)
_PARAM_DECL = re.compile(r"(\w+)\s+(ARRAY<\w+>|\w+)")
_PARAM_USE = re.compile(r"@(\w+)")


@dataclass(frozen=True)
class SqlStatement:
    """One named statement: its BigQuery text, its DuckDB translation and its declared parameters."""

    name: str
    bigquery: str
    params: dict[str, str]

    @property
    def duckdb(self) -> str:
        return _to_duckdb(self.bigquery)


@cache
def _to_duckdb(sql: str) -> str:
    return sqlglot.transpile(sql, read="bigquery", write="duckdb")[0]


@cache
def statement(name: str) -> SqlStatement:
    """Load ``shared/sql/<name>.sql``; its ``-- params:`` line must declare every ``@param`` it uses."""
    text = resources.files(__package__).joinpath(f"{name}.sql").read_text()
    match = _PARAMS_LINE.search(text)
    if match is None:
        raise ValueError(f"{name}.sql has no '-- params:' line")
    declared = {m.group(1): m.group(2).upper() for m in _PARAM_DECL.finditer(match.group(1))}
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--")).strip()
    used = set(_PARAM_USE.findall(body))
    if used != set(declared):
        raise ValueError(f"{name}.sql declares {sorted(declared)} but uses {sorted(used)}")
    return SqlStatement(name=name, bigquery=body, params=declared)


def qualify_tables(stmt: SqlStatement, *, project: str, dataset: str, known: Iterable[str]) -> str:
    """The statement's BigQuery SQL with every table written as `project`.`dataset`.table.

    A BigQuery view cannot use a default dataset, so the view files (which, like every statement,
    name tables unqualified) are qualified here when a view is created: by BigQueryWarehouse with
    the real names, by deploy/generate_schemas.py with Terraform placeholders. `known` are the table
    names the schema defines; a reference to anything else (or an already qualified one) is refused.
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


def check_params(stmt: SqlStatement, params: dict[str, object]) -> None:
    """Refuse a call whose parameters differ from the declaration (a typo would bind NULL silently)."""
    if set(params) != set(stmt.params):
        raise ValueError(f"{stmt.name}: expected parameters {sorted(stmt.params)}, got {sorted(params)}")
