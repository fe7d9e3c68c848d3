"""``python -m bench``: the loader side by side, the whole night, scaling; results.json and a table.

Steps, each printing a line as it finishes: a seeded synthetic league shaped per slate size
(`bench.league`); a CatBoost V8 bundle (or ``--model-dir``); the loader, batch against per-player,
on DuckDB and the BigQuery emulator (`bench.loader`); before/after of each optimization
(`bench.ablation`); the whole night in processes of their own (`bench.night`), ``--night-repeats``
times per size and layout, the median reported; the targets, met or not, and the results file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "bench" / "results.json"
DEFAULT_SIZES = (50, 150, 450, 1500)
BACKENDS = ("duckdb", "bigquery-emulator")
NIGHT_MODES = ("split", "embedded")
TARGET_PLAYERS = 450

# Wide enough for the tables when the output is not a terminal (make, CI logs).
console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


def _sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _choices(allowed: Sequence[str]) -> Any:
    def parse(text: str) -> list[str]:
        chosen = [part.strip() for part in text.split(",") if part.strip()]
        unknown = set(chosen) - set(allowed)
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {sorted(unknown)}; choose from {list(allowed)}")
        return chosen

    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="nba-props benchmarks (issue 8)")
    parser.add_argument("--sizes", type=_sizes, default=list(DEFAULT_SIZES), help="slate sizes, e.g. 50,450")
    parser.add_argument(
        "--night-sizes", type=_sizes, default=None, help="slate sizes of the night (default: --sizes)"
    )
    parser.add_argument("--backends", type=_choices(BACKENDS), default=list(BACKENDS))
    parser.add_argument("--night-modes", type=_choices(NIGHT_MODES), default=list(NIGHT_MODES))
    parser.add_argument("--repeats", type=int, default=3, help="timed batch loads per size (best kept)")
    parser.add_argument(
        "--night-repeats", type=int, default=3, help="nights per size and layout (median kept)"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="NBA_PROPS_PUSH_CONCURRENCY of the night")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--model-dir", type=Path, default=None, help="use this bundle instead of training one"
    )
    parser.add_argument(
        "--iterations",
        type=int,
        default=None,
        help="CatBoost iterations when training (default: the recipe's)",
    )
    parser.add_argument("--no-ablation", action="store_true", help="skip the before/after measurements")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--workdir", type=Path, default=None, help="scratch directory (default: a new temp dir)"
    )
    parser.add_argument("--keep-workdir", action="store_true")
    parser.add_argument(
        "--quick", action="store_true", help="a tiny run (slates of 10 and 30, DuckDB only, one night of 30)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = [10, 30]
        args.night_sizes = args.night_sizes or [30]
        args.backends = ["duckdb"]
        args.repeats = 1
        args.night_repeats = 1
        args.iterations = 20
    if args.night_sizes is None:
        args.night_sizes = list(args.sizes)
    if not args.sizes or min(args.sizes) < 2:
        parser.error("--sizes needs slates of at least 2 players")
    if args.repeats < 1 or args.night_repeats < 1:
        parser.error("--repeats and --night-repeats must be at least 1")
    return args


def _say(message: str) -> None:
    console.print(f"[dim]{datetime.now(UTC):%H:%M:%S}[/dim] {message}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # The bench configures every process itself: settings from the caller's shell must not leak in.
    for key in [k for k in os.environ if k.startswith("NBA_PROPS_")]:
        del os.environ[key]
    from shared.logging import configure_logging
    from shared.settings import LogFormat, Settings

    settings = Settings(log_level="WARNING", log_format=LogFormat.CONSOLE)
    configure_logging(settings)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="nba-props-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        results = run(args, settings, workdir)
    finally:
        if not args.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    results["bench_seconds"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print_tables(results)
    _say(f"wrote {args.out} in {results['bench_seconds']:.0f} s")
    return 0


def run(args: argparse.Namespace, settings: Any, workdir: Path) -> dict[str, Any]:
    from bench.league import generate_bench_league, shape_slate
    from bench.loader import compare_loaders
    from bench.machine import describe
    from shared.warehouse.duckdb import DuckDbWarehouse

    machine = describe(workdir)
    _say(f"machine: {machine['cpu']}, {machine['usable_cpus']} CPUs, load {machine['load_average_at_start']}")

    began = time.perf_counter()
    league, game_date = generate_bench_league(args.seed)
    sizes = sorted(set(args.sizes) | set(args.night_sizes))
    shaped = {n: shape_slate(league, game_date, n) for n in sizes}
    files: dict[int, Path] = {}
    for n, bench_league in shaped.items():
        files[n] = workdir / "leagues" / f"league_{n}.duckdb"
        files[n].parent.mkdir(parents=True, exist_ok=True)
        warehouse = DuckDbWarehouse(files[n])
        try:
            bench_league.league.write(warehouse)
        finally:
            warehouse.close()
    _say(
        f"league (seed {args.seed}) for {game_date}: slates of {sizes} players written "
        f"in {time.perf_counter() - began:.1f} s"
    )

    model_dir = args.model_dir or _train(
        files[min(sizes)], workdir / "model", game_date, args.iterations, settings
    )

    loader: list[dict[str, Any]] = []
    if "duckdb" in args.backends:
        for n in args.sizes:
            warehouse = DuckDbWarehouse(files[n], read_only=True)
            try:
                row = compare_loaders(
                    warehouse, settings, game_date, players=n, backend="duckdb", repeats=args.repeats
                )
            finally:
                warehouse.close()
            loader.append(row)
            _say(
                f"duckdb   {n:>5} players: batch {row['batch_s']:.3f} s ({row['batch_queries']} queries), "
                f"per-player {row['per_player_s']:.2f} s ({row['per_player_queries']} queries): "
                f"{row['ratio']}x"
            )
    if "bigquery-emulator" in args.backends:
        loader.extend(_emulator_rows([shaped[n] for n in args.sizes], settings, game_date, args.repeats))

    ablation: list[dict[str, Any]] = []
    if not args.no_ablation:
        from bench.ablation import run_ablation

        size = min(sizes, key=lambda n: abs(n - TARGET_PLAYERS))
        ablation = run_ablation(files[size], game_date, model_dir, workdir / "ablation", settings)
        for row in ablation:
            _say(f"before/after: {row['change']}: {row['before']} → {row['after']} ({row['unit']})")

    night = _nights(args, files, game_date, model_dir, workdir)
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "make bench  (python -m bench " + " ".join(sys.argv[1:]) + ")",
        "machine": {**machine, "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "league": {
            "seed": args.seed,
            "game_date": game_date.isoformat(),
            "slates": {
                str(n): {"players": b.players, "games": b.games, "cloned_players": b.cloned}
                for n, b in shaped.items()
            },
        },
        "model": _model_summary(model_dir, trained=args.model_dir is None),
        "loader": loader,
        "night": night,
        "scaling": _scaling(loader, night),
        "ablation": ablation,
        "targets": _targets(loader, night),
        "notes": NOTES,
    }


def _train(league_file: Path, out: Path, game_date: Any, iterations: int | None, settings: Any) -> Path:
    """A bundle trained with the production recipe (`train_model`'s defaults) unless told otherwise."""
    from shared.training import train_model
    from shared.warehouse.duckdb import DuckDbWarehouse

    began = time.perf_counter()
    warehouse = DuckDbWarehouse(league_file, read_only=True)
    try:
        if iterations is None:
            manifest = train_model(
                warehouse,
                out,
                end=game_date - timedelta(days=1),
                bookmaker_priority=settings.bookmaker_priority,
            )
        else:
            manifest = train_model(
                warehouse,
                out,
                end=game_date - timedelta(days=1),
                bookmaker_priority=settings.bookmaker_priority,
                iterations=iterations,
            )
    finally:
        warehouse.close()
    _say(
        f"trained a CatBoost V8 bundle ({manifest.params.get('iterations')} iterations) "
        f"in {time.perf_counter() - began:.1f} s"
    )
    return out


def _model_summary(model_dir: Path, *, trained: bool) -> dict[str, Any]:
    from shared.model.bundle import ModelBundle

    manifest = ModelBundle.load(model_dir).manifest
    return {
        "source": "trained by the bench" if trained else str(model_dir),
        "model_version": manifest.model_version,
        "feature_set": manifest.feature_set,
        "params": manifest.params,
    }


def _emulator_rows(leagues: list[Any], settings: Any, game_date: Any, repeats: int) -> list[dict[str, Any]]:
    from bench.emulator import emulator_loader_rows, emulator_unavailable_reason

    reason = emulator_unavailable_reason()
    if reason is None:
        try:
            return emulator_loader_rows(leagues, settings, game_date, repeats=repeats, report=_say)
        except Exception as exc:  # the rest of the bench still runs; the row says what happened
            reason = f"{type(exc).__name__}: {exc}"[:500]
    _say(f"[yellow]bigquery-emulator unavailable[/yellow]: {reason}")
    return [{"backend": "bigquery-emulator", "status": "unavailable", "reason": reason}]


def _nights(
    args: argparse.Namespace, files: dict[int, Path], game_date: Any, model_dir: Path, workdir: Path
) -> list[dict[str, Any]]:
    from bench.night import embedded_night, split_night

    layouts = {"split": split_night, "embedded": embedded_night}
    rows: list[dict[str, Any]] = []
    for n in args.night_sizes:
        for mode in args.night_modes:
            runs = [
                layouts[mode](
                    files[n],
                    game_date,
                    model_dir,
                    workdir / "night" / f"{mode}_{n}_{i}",
                    concurrency=args.concurrency,
                    poll_s=0.02,
                )
                for i in range(args.night_repeats)
            ]
            walls = [run["wall_s"] for run in runs]
            median = sorted(runs, key=lambda run: run["wall_s"])[(len(runs) - 1) // 2]
            row = {"mode": mode, **median, "runs_wall_s": walls, "push_concurrency": args.concurrency}
            rows.append(row)
            p50 = row.get("worker_ms_p50")
            _say(
                f"night {mode:<8} {n:>5} players: {row['wall_s']:.2f} s /start→last row "
                f"(runs {walls}), {row['msgs_per_s']} msg/s"
                + (f", worker p50 {p50} ms" if p50 is not None else "")
            )
    return rows


def _scaling(loader: list[dict[str, Any]], night: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sizes = sorted({int(r["players"]) for r in loader + night if "players" in r})
    out = []
    for n in sizes:
        row: dict[str, Any] = {"players": n}
        for r in loader:
            if r.get("players") == n and "batch_s" in r:
                key = "duckdb" if r["backend"] == "duckdb" else "emulator"
                row[f"{key}_batch_s"] = r["batch_s"]
                row[f"{key}_batch_queries"] = r["batch_queries"]
                row[f"{key}_per_player_s"] = r["per_player_s"]
                row[f"{key}_per_player_queries"] = r["per_player_queries"]
        for r in night:
            if r.get("players") == n:
                row[f"night_{r['mode']}_wall_s"] = r["wall_s"]
                row["messages"] = r["messages"]
        out.append(row)
    queries = [v for row in out for k, v in row.items() if k.endswith("_batch_queries")]
    return [*out, {"batch_queries_constant": bool(queries) and set(queries) == {3}}]


def _find(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    for row in rows:
        if all(row.get(k) == v for k, v in match.items()):
            return row
    return None


def _target(name: str, limit: float, measured: float | None, *, at_least: bool = False) -> dict[str, Any]:
    met = None if measured is None else (measured >= limit if at_least else measured <= limit)
    return {"target": name, "limit": limit, "measured": measured, "met": met}


def _targets(loader: list[dict[str, Any]], night: list[dict[str, Any]]) -> list[dict[str, Any]]:
    emulator = _find(loader, backend="bigquery-emulator", players=TARGET_PLAYERS)
    embedded = _find(night, mode="embedded", players=TARGET_PLAYERS)
    split = _find(night, mode="split", players=TARGET_PLAYERS)
    return [
        _target(
            "batch vs per-player at 450 players on the BigQuery emulator (x)",
            100,
            emulator.get("ratio") if emulator else None,
            at_least=True,
        ),
        _target(
            "450-player night /start → complete, embedded (s)", 2.0, embedded["wall_s"] if embedded else None
        ),
        _target(
            "450-player night /start → last row, worker in its own process (s)",
            2.0,
            split["wall_s"] if split else None,
        ),
        _target(
            "worker per-message latency p50 at 450 players (ms)",
            3.0,
            split["worker_ms_p50"] if split else None,
        ),
        _target("worker peak RSS at 450 players (MB)", 300, split["worker_rss_mb"] if split else None),
        _target(
            "coordinator peak RSS at 450 players (MB)", 300, split["coordinator_rss_mb"] if split else None
        ),
    ]


NOTES = [
    "Slates of exact sizes: the busiest date of the synthetic league's last season keeps just enough "
    "games; rosters are trimmed to spread the players evenly, and beyond the generator's roster sizes "
    "(the 1,500-player slate) rostered players are cloned: a new id with a copy of the original's box "
    "scores, lines and injury entries, so the warehouse really holds that many more rows.",
    "Loader: both sides run BatchCoordinator.load on the same warehouse; the per-player side goes "
    "through bench.baselines.PerPlayerWarehouse (the old way, bench only): one history and one lines query "
    "per player with the same SQL files. per_player_queries counts every statement, the slate query "
    "included (1 + 2 x players). same_messages: both produce byte-identical messages.",
    "Night, split layout: coordinator and worker in separate processes, real HTTP push envelopes from "
    "LoopbackPushPublisher. DuckDB allows one writing process per file, so the coordinator process "
    "owns a copy of the league file and the worker process its own DuckDB file for predictions; "
    "nothing copies rows between them, and the coordinator's /status cannot see the worker's rows. "
    "The night ends at the worker's last acknowledgement (it acknowledges after the row is committed) "
    "and the bench then checks the worker's file holds a row for every message. RSS is VmHWM of "
    "each process; *_anon_rss_mb is its RssAnon at the end of the night, the heap without the "
    "file-backed pages of shared libraries, which depend on the page cache (a freshly installed "
    "virtualenv shows some 50 MB more VmHWM for the same heap).",
    "Night, embedded layout: the shipped EmbeddedStack (both servers in one process, one DuckDB file); "
    "the night ends when the coordinator's GET /status says complete (polled every 20 ms). Its peak "
    "RSS is the one process's (process_rss_mb); the per-role RSS comes from the split layout.",
    "Worker latency is server-side: from the request reaching the app to the last byte of the answer, "
    "so it includes the durable write (one DuckDB commit, i.e. one fdatasync: see "
    "machine.fsync_ms_median) and the wait for the GIL behind the other requests in flight "
    "(NBA_PROPS_PUSH_CONCURRENCY of them). worker_cpu_ms_per_msg is the worker process's CPU time "
    "divided by the messages, which does not depend on how busy the machine is.",
    "The machine may be shared: load_average_at_start/_at_end say how busy it was; wall times on a "
    "busy machine are longer than on an idle one.",
]


def print_tables(results: dict[str, Any]) -> None:
    machine = results["machine"]
    console.print(
        f"\n[bold]Machine[/bold]: {machine['cpu']} · {machine['usable_cpus']} CPUs · "
        f"{machine['memory_gb']} GB · Python {machine['python']} · fsync {machine['fsync_ms_median']} ms · "
        f"load {machine['load_average_at_start']} → {machine['load_average_at_end']}"
    )
    loader = Table(title="Loader: batch (3 queries) vs per-player (the old way)")
    loader_columns = (
        "backend",
        "players",
        "batch s",
        "per-player s",
        "ratio",
        "queries only",
        "queries",
        "same",
    )
    for column in loader_columns:
        loader.add_column(column, justify="right" if column not in {"backend"} else "left")
    for row in results["loader"]:
        if "batch_s" not in row:
            loader.add_row(row["backend"], "—", "—", "—", "—", "—", row.get("reason", "")[:60], "—")
            continue
        loader.add_row(
            row["backend"],
            str(row["players"]),
            f"{row['batch_s']:.3f}",
            f"{row['per_player_s']:.2f}",
            f"{row['ratio']}x",
            f"{row['batch_query_s']:.3f} vs {row['per_player_query_s']:.2f} s: {row['query_ratio']}x",
            f"{row['batch_queries']} / {row['per_player_queries']}",
            "yes" if row["same_messages"] else "NO",
        )
    console.print(loader)
    night = Table(title="The night: POST /start → last prediction row")
    columns = (
        "layout",
        "players",
        "msgs",
        "wall s",
        "/start s",
        "p50/p95/p99 ms",
        "msg/s",
        "RSS MB",
        "CPU ms/msg",
    )
    for column in columns:
        night.add_column(column, justify="left" if column == "layout" else "right")
    for row in results["night"]:
        if row["mode"] == "split":
            latency = f"{row['worker_ms_p50']}/{row['worker_ms_p95']}/{row['worker_ms_p99']}"
            rss = f"coord {row['coordinator_rss_mb']} · worker {row['worker_rss_mb']}"
            cpu = f"{row['worker_cpu_ms_per_msg']}"
        else:
            latency, rss = "—", f"one process {row['process_rss_mb']}"
            cpu = (
                f"{round(1000 * row['process_cpu_s'] / row['messages'], 2)} (both)"
                if row["messages"]
                else "—"
            )
        night.add_row(
            row["mode"],
            str(row["players"]),
            str(row["messages"]),
            f"{row['wall_s']:.2f}",
            f"{row['start_s']:.2f}",
            latency,
            str(row["msgs_per_s"]),
            rss,
            cpu,
        )
    console.print(night)
    if results["ablation"]:
        ablation = Table(title="Before / after, same inputs, same run")
        for column in ("change", "unit", "before", "after", "speedup", "same output"):
            ablation.add_column(column)
        for row in results["ablation"]:
            ablation.add_row(
                row["change"],
                row["unit"],
                str(row["before"]),
                str(row["after"]),
                f"{row['speedup']}x",
                "yes" if row["identical_output"] else "NO",
            )
        console.print(ablation)
    targets = Table(title="Targets (issue 8)")
    for column in ("target", "limit", "measured", "met"):
        targets.add_column(column)
    for row in results["targets"]:
        met = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "not measured"}[row["met"]]
        targets.add_row(row["target"], str(row["limit"]), str(row["measured"]), met)
    console.print(targets)
