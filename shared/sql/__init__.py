"""SQL source of truth: BigQuery Standard SQL files, one statement each, with declared parameters.

Each warehouse adapter translates them to its engine's dialect.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import NamedTuple

_PARAMS_LINE = re.compile(r"^--\s*params:(.*)$", re.MULTILINE)
_PARAM_DECL = re.compile(r"(\w+)\s+(ARRAY<\w+>|\w+)")
_PARAM_USE = re.compile(r"@(\w+)")


class SqlStatement(NamedTuple):
    """One named statement: its BigQuery text and its declared parameters (name -> type)."""

    name: str
    bigquery: str
    params: dict[str, str]


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


def check_params(stmt: SqlStatement, params: dict[str, object]) -> None:
    """Refuse a call whose parameters differ from the declaration (a typo would bind NULL silently)."""
    if set(params) != set(stmt.params):
        raise ValueError(f"{stmt.name}: expected parameters {sorted(stmt.params)}, got {sorted(params)}")
