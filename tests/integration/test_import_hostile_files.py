"""Hostile or broken input to every importer: one clear error per problem, never a traceback, and
nothing written; a BOM and CRLF line ends are ordinary text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.import_fixtures import FIXTURES, rows, run, seeded_warehouse

COMMANDS = ("import-schedule", "import-lines", "import-injuries", "import-rosters")
DATA_TABLES = ("schedule", "prop_line_snapshots", "injury_reports", "rosters", "unmatched_names")


def _sparse(path: Path) -> None:
    with path.open("wb") as fh:
        fh.truncate(2 * 1024**3)  # claims 2 GB; no block is written


HOSTILE: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "binary garbage": ("garbage.csv", lambda p: p.write_bytes(bytes(range(256)) * 4), "binary data"),
    "invalid utf-8": (
        "latin1.csv",
        lambda p: p.write_bytes(b"player,team\nJos\xe9,DEN\n"),
        "line 2: not UTF-8",
    ),
    "lone surrogate bytes": (
        "s.csv",
        lambda p: p.write_bytes(b"player,team\n\xed\xa0\x80,DEN\n"),
        "not UTF-8",
    ),
    "lone surrogate escape": ("s.json", lambda p: p.write_text('{"a": "\\ud800"}'), "a lone surrogate"),
    "a 2 GB file": ("huge.csv", _sparse, "more than the"),
    "deep nesting": ("deep.json", lambda p: p.write_text("[" * 100_000 + "]" * 100_000), "nested"),
    "moderate nesting": (
        "deep2.json",
        lambda p: p.write_text("[" * 200 + "]" * 200),
        "nested deeper than 64",
    ),
    "NaN": ("nan.json", lambda p: p.write_text('{"leagueSchedule": NaN}'), "NaN is not a JSON number"),
    "Infinity": ("inf.json", lambda p: p.write_text('[{"point": -Infinity}]'), "not a JSON number"),
    "truncated JSON": (
        "cut.json",
        lambda p: p.write_text('{"leagueSchedule": {"gameDates": ['),
        "not valid JSON",
    ),
    "empty file": ("empty.csv", lambda p: p.write_bytes(b""), "file is empty"),
    "whitespace only": ("blank.csv", lambda p: p.write_text("\r\n \n"), "file is empty"),
    "header only": ("header.csv", lambda p: p.write_text("a,b\n"), "missing columns"),
    "a JSON scalar": ("scalar.json", lambda p: p.write_text("42"), ""),
}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded_warehouse(tmp_path_factory.mktemp("hostile") / "warehouse.duckdb")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_input_is_refused_in_a_line_without_a_traceback(
    db: Path, tmp_path: Path, command: str, case: str
) -> None:
    name, make, message = HOSTILE[case]
    if command == "import-rosters" and name.endswith(".json"):
        message = "import-rosters reads CSV"
    path = tmp_path / name
    make(path)
    result = run(db, command, path)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "nothing was written" in result.output
    assert message in result.output
    assert all(rows(db, f"SELECT * FROM {t}").empty for t in DATA_TABLES)


def test_a_missing_file_is_refused_in_a_line(db: Path, tmp_path: Path) -> None:
    result = run(db, "import-schedule", tmp_path / "absent.json")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert f"{tmp_path / 'absent.json'}: no such file" in result.output


def test_problems_beyond_the_cap_are_counted_not_listed(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    path.write_text("game_id,game_date,tipoff_utc,home,away\n" + "g,not-a-date,,DEN,DAL\n" * 80)
    result = run(db, "import-schedule", path)
    assert result.exit_code == 1
    assert result.output.count("not a date") == 50 and "... and 30 more" in result.output
    assert f"{path}, line 81, column game_date" not in result.output


def test_a_bom_and_crlf_line_ends_import_like_plain_text(db: Path, tmp_path: Path) -> None:
    text = (FIXTURES / "rosters.csv").read_text().replace("\n", "\r\n")
    path = tmp_path / "rosters.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    result = run(seeded_warehouse(tmp_path / "fresh.duckdb"), "import-rosters", path)
    assert result.exit_code == 0, result.output
    assert "4 read, 3 added" in result.output and "line 5: 'Mystery Man'" in result.output


def test_an_unreadable_alias_file_refuses_the_import(db: Path, tmp_path: Path) -> None:
    aliases = tmp_path / "aliases.csv"
    aliases.write_text("alias,player\nJoker,\n")
    result = run(db, "import-lines", FIXTURES / "lines_event.json", "--aliases", aliases)
    assert result.exit_code == 1 and "alias and player are both required" in result.output
