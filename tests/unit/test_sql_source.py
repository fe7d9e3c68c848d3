from __future__ import annotations

from importlib import resources

import pytest
import sqlglot
from sqlglot import exp

from shared.lines import PRETIP_CUTOFFS
from shared.sql import check_params, statement
from shared.warehouse.duckdb import duckdb_sql

NAMES = sorted(p.name[:-4] for p in resources.files("shared.sql").iterdir() if p.name.endswith(".sql"))


@pytest.mark.parametrize("name", NAMES)
def test_every_statement_declares_exactly_the_parameters_it_uses_and_transpiles(name: str) -> None:
    stmt = statement(name)
    assert "@" not in duckdb_sql(stmt), "a BigQuery parameter survived transpilation"
    sqlglot.parse_one(stmt.bigquery, read="bigquery")  # valid BigQuery syntax


def test_a_call_with_a_misspelled_parameter_is_refused() -> None:
    with pytest.raises(ValueError, match="expected parameters"):
        check_params(statement("lines"), {"start_date": None, "end_date": None, "player_id": []})


def test_sql_never_interpolates_values() -> None:
    for name in NAMES:
        text = statement(name).bigquery
        assert "{" not in text and "%s" not in text, name


def test_the_pretip_cutoff_is_written_once_and_both_snapshot_queries_read_it() -> None:
    cutoff_rule = [
        name for name in NAMES if "COALESCE(tipoff_utc" in statement(name).bigquery.replace("g.", "")
    ]
    assert cutoff_rule == [f"{PRETIP_CUTOFFS}_view"]
    for name in ("lines", "slate"):
        tree = sqlglot.parse_one(statement(name).bigquery, read="bigquery")
        assert PRETIP_CUTOFFS in {t.name for t in tree.find_all(exp.Table)}, name
