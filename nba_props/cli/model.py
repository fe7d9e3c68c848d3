"""The model: `train` a bundle on the warehouse, `evaluate` walk-forward on past seasons."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from nba_props.cli.compose import load_settings, open_warehouse
from nba_props.cli.output import console, staged_progress


def train(
    start: Annotated[str | None, typer.Option(help="First game date (YYYY-MM-DD) to train on.")] = None,
    end: Annotated[str | None, typer.Option(help="Last game date to train on.")] = None,
    iterations: Annotated[
        int | None, typer.Option(min=10, max=5000, help="Default: the recipe's (shared.model, 1000).")
    ] = None,
    feature_set: Annotated[
        str,
        typer.Option(
            help="v8 (the default contract), v8hist (V8 + long-memory history) or v8ctx (V8 + context)."
        ),
    ] = "v8",
) -> None:
    """Train CatBoost V8 on the warehouse and write the model bundle to NBA_PROPS_MODEL_DIR.

    CatBoost settings: the measured recipe in shared.model (MAE loss, 1000 iterations, lr 0.05).
    """
    from shared.training import DEFAULT_ITERATIONS, train_model

    settings = load_settings()
    iterations = iterations or DEFAULT_ITERATIONS
    with open_warehouse(settings) as warehouse, staged_progress() as (_, report):
        report("Training", 0, iterations)
        manifest = train_model(
            warehouse,
            settings.model_dir,
            start=date.fromisoformat(start) if start else None,
            end=date.fromisoformat(end) if end else None,
            iterations=iterations,
            bookmaker_priority=settings.bookmaker_priority,
            progress=lambda done, total: report("Training", done, total),
            feature_set=feature_set,
        )
    console.print(
        manifest.model_dump_json(indent=2, exclude={"residual_quantiles", "residual_quantiles_by_prediction"})
    )


def evaluate(
    train_through: Annotated[str, typer.Option(help="Last training season, e.g. 2022-23.")],
    test: Annotated[str, typer.Option(help="Season to predict, e.g. 2023-24.")],
    out: Annotated[Path, typer.Option(help="Directory for report.json and report.md.")] = Path(
        "data/evaluation"
    ),
    logs: Annotated[
        list[Path] | None,
        typer.Option(help="Evaluate on these game-log files (imported into a temporary DuckDB) instead."),
    ] = None,
    feature_set: Annotated[
        list[str] | None,
        typer.Option(help="Feature set(s) to train and compare: v8 (default), v8hist, v8ctx."),
    ] = None,
    # Unset: the recipe `nba-props train` uses (shared.model: MAE loss, 1000 it., lr 0.05, depth 6).
    iterations: Annotated[int | None, typer.Option(min=10, max=5000, help="Default: 1000.")] = None,
    depth: Annotated[int | None, typer.Option(min=2, max=10, help="Default: 6.")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Default: 0.05.")] = None,
    loss: Annotated[
        str | None, typer.Option(help="CatBoost loss function (MAE, RMSE, ...). Default: MAE.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report.")] = False,
) -> None:
    """Walk-forward evaluation: train on seasons up to X, predict season Y point in time, report."""
    from nba_props.evaluate import EvaluationConfig, evaluate_logs, markdown_report, write_report
    from nba_props.evaluate import evaluate as run_evaluation
    from nba_props.importer import MalformedGameLog
    from shared.training import (
        DEFAULT_DEPTH,
        DEFAULT_ITERATIONS,
        DEFAULT_LEARNING_RATE,
        DEFAULT_LOSS_FUNCTION,
    )

    for option, season in (("--train-through", train_through), ("--test", test)):
        if not re.fullmatch(r"\d{4}-\d{2}", season):
            raise typer.BadParameter(f"a season label such as 2022-23, got {season!r}", param_hint=option)
    settings = load_settings()
    config = EvaluationConfig(
        train_through=train_through,
        test_season=test,
        feature_sets=tuple(feature_set or ["v8"]),
        iterations=iterations or DEFAULT_ITERATIONS,
        depth=depth or DEFAULT_DEPTH,
        learning_rate=learning_rate or DEFAULT_LEARNING_RATE,
        loss_function=loss or DEFAULT_LOSS_FUNCTION,
        edge_threshold=settings.edge_threshold,
        bookmaker_priority=tuple(settings.bookmaker_priority),
    )
    with staged_progress() as (progress, report):
        try:
            if logs:
                result = evaluate_logs(logs, config, report)
            else:
                with open_warehouse(settings) as warehouse:
                    result = run_evaluation(warehouse, config, report)
        except (MalformedGameLog, ValueError) as exc:
            progress.stop()
            console.print(f"[red]Evaluation failed:[/red] {exc}")
            raise typer.Exit(1) from exc
    json_path, md_path = write_report(result, out)
    if as_json:
        typer.echo(json_path.read_text())
    else:
        console.print(markdown_report(result.report))
        console.print(f"Reports: {json_path} {md_path}")


def register(app: typer.Typer) -> None:
    app.command()(train)
    app.command()(evaluate)
