"""`make bench` end to end at toy size: the results file has the shape the README describes.

Benchmarks are not timed tests: nothing here asserts a duration, only that a tiny run (slates of 10
and 30 players, DuckDB, one night per layout) completes and reports what it measured, consistently.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH_TIMEOUT_S = 240


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    workdir = out.parent / "work"
    command = [sys.executable, "-m", "bench", "--quick", "--model-dir", str(model_dir)]
    finished = subprocess.run(
        [*command, "--out", str(out), "--workdir", str(workdir)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=BENCH_TIMEOUT_S,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "Targets" in finished.stdout  # the table was printed
    assert not workdir.exists(), "the scratch directory is removed without --keep-workdir"
    loaded: dict[str, Any] = json.loads(out.read_text())
    return loaded


def test_the_results_describe_the_machine_and_the_model_they_were_measured_with(
    results: dict[str, Any],
) -> None:
    assert results["model"]["feature_set"] == "v8" and results["model"]["model_version"]
    machine = results["machine"]
    assert machine["logical_cpus"] >= 1 and machine["python"].count(".") == 2
    assert machine["packages"]["duckdb"] and _number(machine["fsync_ms_median"])
    assert len(machine["load_average_at_start"]) == len(machine["load_average_at_end"]) == 3


def test_the_batch_loader_uses_three_queries_and_the_old_way_two_per_player(results: dict[str, Any]) -> None:
    rows = results["loader"]
    assert [(r["backend"], r["players"]) for r in rows] == [("duckdb", 10), ("duckdb", 30)]
    for row in rows:
        assert row["batch_queries"] == 3
        assert row["per_player_queries"] == 1 + 2 * row["players"]
        assert row["same_messages"] is True and 0 < row["messages"] <= row["players"]
        assert _number(row["batch_s"]) and _number(row["per_player_s"]) and _number(row["ratio"])
    scaling = results["scaling"]
    assert [r["players"] for r in scaling[:-1]] == [10, 30]
    assert scaling[-1] == {"batch_queries_constant": True}


def test_every_night_writes_a_row_for_every_message_in_both_layouts(results: dict[str, Any]) -> None:
    nights = {r["mode"]: r for r in results["night"]}
    assert set(nights) == {"split", "embedded"}
    for row in nights.values():
        assert row["players"] == 30 and row["messages"] > 0
        assert row["predicted"] + row["rejected"] == row["messages"]
        assert row["messages"] + row["skipped"] == row["players"]
        assert _number(row["wall_s"]) and _number(row["msgs_per_s"]) and len(row["runs_wall_s"]) == 1
    split = nights["split"]
    assert split["push_statuses"] == {"204": split["messages"]}
    assert split["worker_ms_p50"] <= split["worker_ms_p95"] <= split["worker_ms_p99"]
    assert _number(split["coordinator_rss_mb"]) and _number(split["worker_rss_mb"])
    # The heap alone is part of the peak, never more.
    assert 0 < split["worker_anon_rss_mb"] <= split["worker_rss_mb"]
    assert 0 < split["coordinator_anon_rss_mb"] <= split["coordinator_rss_mb"]
    assert _number(nights["embedded"]["process_rss_mb"])


def test_each_optimization_reports_before_after_and_the_same_output(results: dict[str, Any]) -> None:
    assert len(results["ablation"]) == 3
    for row in results["ablation"]:
        assert _number(row["before"]) and _number(row["after"]) and row["identical_output"] is True


def test_the_targets_of_the_issue_are_listed_with_a_verdict_or_not_measured(results: dict[str, Any]) -> None:
    targets = results["targets"]
    assert len(targets) == 6
    # A toy run has no 450-player slate: nothing is claimed.
    assert all(t["measured"] is None and t["met"] is None for t in targets)
    assert results["notes"]
