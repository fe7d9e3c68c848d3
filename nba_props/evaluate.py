"""Walk-forward evaluation: train on seasons up to X, predict every game of season Y, point in time.

The model is trained exactly as `nba-props train` trains it (`shared.training`: the serving SQL,
the one feature implementation, a chronological holdout calibrating the confidence, a refit on every
training row); the bundle then predicts every played game of the test season. Reported, overall and
for the prop-like population: MAE, RMSE, bias, within-3 and within-5 rates next to baselines from
the same window, errors by minutes bucket, and the calibration of the stated probabilities.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from shared.features.sets import feature_names, union_of
from shared.features.window import HISTORY_LOOKBACK_DAYS, HISTORY_MAX_GAMES, TARGET_COLUMNS
from shared.lines import DEFAULT_BOOKMAKER_PRIORITY
from shared.model.bundle import ModelBundle
from shared.model.recommend import recommend
from shared.training import (
    DEFAULT_DEPTH,
    DEFAULT_ITERATIONS,
    DEFAULT_LEARNING_RATE,
    DEFAULT_LOSS_FUNCTION,
    EARLIEST,
    LATEST,
    load_training_history,
    load_training_targets,
    train_bundle,
    training_frame,
)
from shared.warehouse import Warehouse

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[str, int, int], None]

# Prop-like: players averaging >= 24 minutes over their last 10 games, with >= 5 prior window games.
PROP_MIN_MINUTES = 24.0
PROP_MIN_GAMES = 5
EWMA_HALF_LIVES: tuple[float, ...] = (3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0)
BLEND_WEIGHTS = (0.4, 0.35, 0.25)
MINUTES_BUCKETS: tuple[tuple[float, float], ...] = (
    (0.0, 12.0),
    (12.0, 20.0),
    (20.0, 24.0),
    (24.0, 30.0),
    (30.0, 36.0),
    (36.0, math.inf),
)
PROBABILITY_BINS = np.linspace(0.0, 1.0, 11)
# last_5 / last_10: the features points_avg_last_5 / _10; season_avg: points_avg_season (last_10 on a
# season's first game); ewma: the window's points, its half-life (in games) chosen on the training
# seasons from EWMA_HALF_LIVES, the strongest version of the baseline; blend: BLEND_WEIGHTS of
# last_5, last_10 and season_avg. "Overall" is every test game with a prior game (the baselines need
# one); the model's figures on debut games are reported apart. Minutes buckets use the last-10 average.
BASELINES = ("last_5", "last_10", "season_avg", "ewma", "blend")


@dataclass(frozen=True)
class EvaluationConfig:
    """What to train on, what to test on, and the CatBoost settings (default: `nba-props train`'s)."""

    train_through: str
    test_season: str
    # The first is the model the report's target refers to; the others are compared with it.
    feature_sets: tuple[str, ...] = ("v8",)
    iterations: int = DEFAULT_ITERATIONS
    depth: int = DEFAULT_DEPTH
    learning_rate: float | None = DEFAULT_LEARNING_RATE
    loss_function: str = DEFAULT_LOSS_FUNCTION
    seed: int = 0
    thread_count: int = 2
    edge_threshold: float = 1.5
    bookmaker_priority: tuple[str, ...] = DEFAULT_BOOKMAKER_PRIORITY


@dataclass
class EvaluationResult:
    config: EvaluationConfig
    report: dict[str, Any]
    predictions: pd.DataFrame
    bundles: dict[str, ModelBundle] = field(default_factory=dict)


# -- point-in-time baselines ------------------------------------------------------------------------


def window_baselines(
    history: pd.DataFrame, targets: pd.DataFrame, half_lives: Sequence[float] = EWMA_HALF_LIVES
) -> pd.DataFrame:
    """Per target: games in its history window and the EWMA of their points for each half-life.

    The window is the features' own (the last `HISTORY_MAX_GAMES` games within
    `HISTORY_LOOKBACK_DAYS` days, strictly before the target's date), so a baseline never knows more
    than the model does. Weights are 0.5 ** (lag / half_life), lag 0 = the latest game.
    """
    h = history.sort_values(["player_id", "game_date"], kind="stable")
    h_player = h["player_id"].to_numpy(dtype=np.int64)
    h_day = pd.to_datetime(h["game_date"]).to_numpy().astype("datetime64[D]").astype(np.int64)
    points = np.append(h["points"].to_numpy(dtype=np.float64), 0.0)
    t_player = targets["player_id"].to_numpy(dtype=np.int64)
    t_day = pd.to_datetime(targets["game_date"]).to_numpy().astype("datetime64[D]").astype(np.int64)

    span = int(max(h_day.max(initial=0), t_day.max(initial=0))) + HISTORY_LOOKBACK_DAYS + 2
    h_key = h_player * span + h_day
    stop = np.searchsorted(h_key, t_player * span + t_day, side="left")
    first = np.searchsorted(h_key, t_player * span + t_day - HISTORY_LOOKBACK_DAYS, side="left")
    first = np.maximum(first, stop - HISTORY_MAX_GAMES)
    n_games = stop - first

    lag = np.arange(HISTORY_MAX_GAMES)
    in_window = lag[None, :] < n_games[:, None]
    gathered = np.where(in_window, points[np.where(in_window, stop[:, None] - 1 - lag[None, :], -1)], 0.0)
    out = pd.DataFrame({"n_prior_games": n_games.astype(np.int64)}, index=targets.index)
    for half_life in half_lives:
        weights = np.where(in_window, 0.5 ** (lag[None, :] / half_life), 0.0)
        total = weights.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"ewma_{half_life:g}"] = np.where(total > 0, (weights * gathered).sum(axis=1) / total, np.nan)
    return out


def baseline_predictions(features: pd.DataFrame, ewma: pd.Series) -> pd.DataFrame:
    """The five baselines; a missing season average (a season's first game) falls back to last-10."""
    last_5 = features["points_avg_last_5"]
    last_10 = features["points_avg_last_10"]
    season = features["points_avg_season"].fillna(last_10)
    w5, w10, ws = BLEND_WEIGHTS
    return pd.DataFrame(
        {
            "last_5": last_5,
            "last_10": last_10,
            "season_avg": season,
            "ewma": ewma,
            "blend": w5 * last_5 + w10 * last_10 + ws * season,
        },
        index=features.index,
    )


# -- metrics ----------------------------------------------------------------------------------------


def error_metrics(predicted: npt.ArrayLike, actual: npt.ArrayLike) -> dict[str, float | int]:
    """n, MAE, RMSE, bias (mean predicted - actual), within-3 and within-5 rates."""
    pred = np.asarray(predicted, dtype=np.float64)
    act = np.asarray(actual, dtype=np.float64)
    if pred.size == 0:
        return {
            "n": 0,
            "mae": math.nan,
            "rmse": math.nan,
            "bias": math.nan,
            "within_3": math.nan,
            "within_5": math.nan,
        }
    err = pred - act
    return {
        "n": int(err.size),
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "bias": float(np.mean(err)),
        "within_3": float(np.mean(np.abs(err) <= 3.0)),
        "within_5": float(np.mean(np.abs(err) <= 5.0)),
    }


def calibration_table(probability: npt.ArrayLike, outcome: npt.ArrayLike) -> dict[str, Any]:
    """Reliability of stated probabilities: per 0.1-wide bin, count, mean stated, observed rate.

    Also the Brier score and the expected calibration error (count-weighted |stated - observed|).
    """
    p = np.asarray(probability, dtype=np.float64)
    y = np.asarray(outcome, dtype=np.float64)
    keep = np.isfinite(p) & np.isfinite(y)
    p, y = p[keep], y[keep]
    bins = np.clip(np.digitize(p, PROBABILITY_BINS[1:-1]), 0, len(PROBABILITY_BINS) - 2)
    rows = []
    ece = 0.0
    for b in range(len(PROBABILITY_BINS) - 1):
        in_bin = bins == b
        n = int(in_bin.sum())
        if n == 0:
            continue
        stated, observed = float(p[in_bin].mean()), float(y[in_bin].mean())
        ece += n * abs(stated - observed)
        rows.append(
            {
                "bin": f"{PROBABILITY_BINS[b]:.1f}-{PROBABILITY_BINS[b + 1]:.1f}",
                "n": n,
                "stated": stated,
                "observed": observed,
            }
        )
    total = int(keep.sum())
    return {
        "n": total,
        "brier": float(np.mean((p - y) ** 2)) if total else math.nan,
        "ece": ece / total if total else math.nan,
        "bins": rows,
    }


def _bucket_label(lo: float, hi: float) -> str:
    return f"{lo:g}+" if math.isinf(hi) else f"{lo:g}-{hi:g}"


# -- the evaluation ---------------------------------------------------------------------------------


def _choose_half_life(frame: pd.DataFrame, train: npt.NDArray[np.bool_]) -> float:
    """The EWMA half-life with the lowest prop-like MAE on the training seasons."""
    prop = train & frame["prop_like"].to_numpy()
    best, best_mae = EWMA_HALF_LIVES[0], math.inf
    for half_life in EWMA_HALF_LIVES:
        predicted = frame[f"ewma_{half_life:g}"].to_numpy()[prop]
        mae = float(np.nanmean(np.abs(predicted - frame["points"].to_numpy()[prop])))
        if mae < best_mae:
            best, best_mae = half_life, mae
    return best


def evaluation_frame(
    warehouse: Warehouse, bookmaker_priority: Sequence[str], feature_sets: Sequence[str] = ("v8",)
) -> pd.DataFrame:
    """Every played game in the warehouse: the features of every named set (the training path),
    points, meta, baselines."""
    targets = load_training_targets(warehouse, EARLIEST, LATEST, bookmaker_priority)
    history = load_training_history(warehouse, targets, EARLIEST, LATEST)
    features, points, meta = training_frame(targets, history, columns=union_of(feature_sets))
    window = window_baselines(history, targets[list(TARGET_COLUMNS)])
    frame = pd.concat(
        [
            features.reset_index(drop=True),
            meta.reset_index(drop=True).rename(columns={"minutes": "actual_minutes"}),
            window.reset_index(drop=True),
        ],
        axis=1,
    )
    frame["points"] = points.to_numpy()
    frame["prop_like"] = (frame["minutes_avg_last_10"] >= PROP_MIN_MINUTES) & (
        frame["n_prior_games"] >= PROP_MIN_GAMES
    )
    return frame


def model_column(feature_set: str) -> str:
    return f"catboost_{feature_set}"


def evaluate(
    warehouse: Warehouse, config: EvaluationConfig, progress: Progress | None = None
) -> EvaluationResult:
    """Train on seasons ≤ ``config.train_through``, predict ``config.test_season``, build the report."""
    if config.test_season <= config.train_through:
        raise ValueError(f"test season {config.test_season} is not after {config.train_through}")
    if not config.feature_sets:
        raise ValueError("name at least one feature set")
    if progress:
        progress("Building features", 0, 1)
    frame = evaluation_frame(warehouse, config.bookmaker_priority, config.feature_sets)
    if progress:
        progress("Building features", 1, 1)
    seasons = frame["season"].astype(str)
    train = (seasons <= config.train_through).to_numpy()
    test = (seasons == config.test_season).to_numpy()
    if not train.any():
        raise ValueError(f"no played games in seasons up to {config.train_through}")
    if not test.any():
        raise ValueError(f"no played games in season {config.test_season}")

    rows = frame.loc[test].reset_index(drop=True)
    bundles: dict[str, ModelBundle] = {}
    models: dict[str, FloatArray] = {}
    total = config.iterations * 2 * len(config.feature_sets)
    for index, feature_set in enumerate(config.feature_sets):
        names = list(feature_names(feature_set))
        offset = index * config.iterations * 2

        def report_training(done: int, _total: int, offset: int = offset) -> None:
            if progress:
                progress("Training", offset + done, total)

        bundle = train_bundle(
            frame.loc[train, names],
            frame.loc[train, "points"].to_numpy(),
            dates=frame.loc[train, "game_date"],
            iterations=config.iterations,
            depth=config.depth,
            learning_rate=config.learning_rate,
            loss_function=config.loss_function,
            seed=config.seed,
            thread_count=config.thread_count,
            progress=report_training,
            feature_set=feature_set,
        )
        bundles[feature_set] = bundle
        models[model_column(feature_set)] = bundle.predict(rows[names], thread_count=config.thread_count)

    half_life = _choose_half_life(frame, train)
    baselines = baseline_predictions(rows, rows[f"ewma_{half_life:g}"])
    predictions = pd.concat(
        [
            rows[["player_id", "game_id", "game_date", "season", "points", "actual_minutes"]],
            rows[["minutes_avg_last_10", "n_prior_games", "prop_like"]],
            pd.DataFrame(models),
            baselines,
        ],
        axis=1,
    )
    report = build_report(predictions, bundles, config, half_life, train_rows=int(train.sum()))
    return EvaluationResult(config, report, predictions, bundles)


def build_report(
    predictions: pd.DataFrame,
    bundles: dict[str, ModelBundle],
    config: EvaluationConfig,
    half_life: float,
    *,
    train_rows: int,
) -> dict[str, Any]:
    """The JSON report: metrics by population, minutes buckets, calibration, per model."""
    actual = predictions["points"].to_numpy(dtype=np.float64)
    has_history = (predictions["n_prior_games"] > 0).to_numpy()
    populations = {
        "overall": has_history,
        "prop_like": predictions["prop_like"].to_numpy(dtype=bool),
    }
    models = [model_column(name) for name in bundles]
    predictors = (*models, *BASELINES)

    def table(mask: npt.NDArray[np.bool_], names: Sequence[str]) -> dict[str, dict[str, float | int]]:
        return {name: error_metrics(predictions[name].to_numpy()[mask], actual[mask]) for name in names}

    metrics = {name: table(mask, predictors) for name, mask in populations.items()}
    prop = metrics["prop_like"]
    last_10_mae = float(prop["last_10"]["mae"])

    minutes = predictions["minutes_avg_last_10"].to_numpy()
    buckets = []
    for lo, hi in MINUTES_BUCKETS:
        mask = has_history & (minutes >= lo) & (minutes < hi)
        buckets.append(
            {"bucket": _bucket_label(lo, hi), **table(mask, (*models, "last_10", "ewma", "blend"))}
        )

    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "train_through": config.train_through,
        "test_season": config.test_season,
        "config": {k: v for k, v in asdict(config).items() if k != "bookmaker_priority"},
        "models": {
            model_column(name): {
                "feature_set": bundle.manifest.feature_set,
                "features": len(bundle.manifest.feature_names),
                "model_version": bundle.manifest.model_version,
                "train_rows": train_rows,
                "training_window": bundle.manifest.training_window.model_dump(mode="json"),
                "holdout": bundle.manifest.holdout.model_dump(mode="json"),
                "params": bundle.manifest.params,
            }
            for name, bundle in bundles.items()
        },
        "populations": {
            "overall": "test games with at least one prior game in the window",
            "prop_like": (
                f"≥ {PROP_MIN_MINUTES:g} min average over the last 10 and ≥ {PROP_MIN_GAMES} prior games"
            ),
        },
        "test_games": len(predictions),
        "debut_games": {
            "n": int((~has_history).sum()),
            **{
                "mae_" + name: error_metrics(
                    predictions[name].to_numpy()[~has_history], actual[~has_history]
                )["mae"]
                for name in models
            },
        },
        "ewma_half_life_games": half_life,
        "metrics": metrics,
        "target": {
            name: {
                "prop_like_mae": float(prop[name]["mae"]),
                "prop_like_last_10_mae": last_10_mae,
                "improvement_vs_last_10": 1.0 - float(prop[name]["mae"]) / last_10_mae,
                "needed": 0.05,
                "beats_last_10_by_5pct": float(prop[name]["mae"]) <= 0.95 * last_10_mae,
                "beats_ewma": float(prop[name]["mae"]) < float(prop["ewma"]["mae"]),
            }
            for name in models
        },
        "minutes_buckets": buckets,
        "calibration": {
            model_column(name): {
                population: _calibration(predictions, model_column(name), bundle, mask, config.edge_threshold)
                for population, mask in populations.items()
            }
            for name, bundle in bundles.items()
        },
    }


def _calibration(
    predictions: pd.DataFrame,
    column: str,
    bundle: ModelBundle,
    mask: npt.NDArray[np.bool_],
    edge_threshold: float,
) -> dict[str, Any]:
    """P(over) and recommendation confidence against the pseudo-line floor(last-10) + 0.5.

    The real logs have no betting lines. A half-point pseudo-line (as most prop lines are: no pushes)
    tests whether the stated probabilities are honest, binned against how often the player beat it;
    it is not a market line and says nothing of how the picks would fare against a bookmaker.
    """
    actual = predictions["points"].to_numpy(dtype=np.float64)[mask]
    pseudo_line = np.floor(predictions["last_10"].to_numpy()[mask]) + 0.5
    pred = predictions[column].to_numpy()[mask]
    p_over = bundle.prob_over(pred, pseudo_line)
    p_under = bundle.prob_under(pred, pseudo_line)
    over = actual > pseudo_line
    picks = recommend(
        pred, pseudo_line, p_over, prob_under=p_under, edge_threshold=edge_threshold, floor=0.0, ceiling=100.0
    )
    side = np.array([r.recommendation for r in picks])
    confidence = np.array([np.nan if r.confidence is None else r.confidence for r in picks])
    hit = np.where(side == "OVER", over, np.where(side == "UNDER", ~over, np.nan)).astype(np.float64)
    acted = (side == "OVER") | (side == "UNDER")
    return {
        "pseudo_line": "floor(last-10 average) + 0.5",
        "base_rate_over": float(over.mean()) if over.size else math.nan,
        "prob_over": calibration_table(p_over, over),
        "recommendation": {
            "edge_threshold": edge_threshold,
            "picks": int(acted.sum()),
            "hit_rate": float(np.mean(hit[acted])) if acted.any() else math.nan,
            "confidence": calibration_table(confidence[acted], hit[acted]),
        },
    }


# -- output -----------------------------------------------------------------------------------------


def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pct(value: Any) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}%"


def markdown_report(report: dict[str, Any]) -> str:
    """The report as Markdown tables."""
    models = report["models"]
    lines = [
        f"# Walk-forward evaluation: train ≤ {report['train_through']}, test {report['test_season']}",
        "",
        *[
            f"- `{name}`: {m['features']} features, {m['train_rows']} training rows, "
            f"params `{json.dumps(m['params'])}`"
            for name, m in models.items()
        ],
        "",
        f"Test games: {report['test_games']} ({report['debut_games']['n']} debuts without a prior game "
        f"are left out of the tables). EWMA half-life: {report['ewma_half_life_games']:g} games "
        "(chosen on the training seasons).",
        "",
    ]
    for population, description in report["populations"].items():
        lines += [
            f"## {population} ({description})",
            "",
            "| predictor | n | MAE | RMSE | bias | within 3 | within 5 |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, m in report["metrics"][population].items():
            lines.append(
                f"| {name} | {m['n']} | {_f(m['mae'])} | {_f(m['rmse'])} | {_f(m['bias'])} | "
                f"{_pct(m['within_3'])} | {_pct(m['within_5'])} |"
            )
        lines.append("")
    lines += ["## Target: prop-like MAE at least 5% below last-10 and below the EWMA", ""]
    for name, target in report["target"].items():
        lines.append(
            f"- `{name}`: {_f(target['prop_like_mae'])} vs last-10 {_f(target['prop_like_last_10_mae'])}, "
            f"{_pct(target['improvement_vs_last_10'])} better "
            f"({'met' if target['beats_last_10_by_5pct'] else 'NOT met'}); "
            f"{'below' if target['beats_ewma'] else 'NOT below'} the EWMA."
        )
    names = list(models)
    lines += [
        "",
        "## MAE by minutes bucket (last-10 minutes average, known before the game)",
        "",
        "| minutes | n | " + " | ".join([*names, "last_10", "ewma", "blend"]) + " |",
        "|---|---:|" + "---:|" * (len(names) + 3),
    ]
    for b in report["minutes_buckets"]:
        cells = [_f(b[name]["mae"]) for name in (*names, "last_10", "ewma", "blend")]
        lines.append(f"| {b['bucket']} | {b['last_10']['n']} | " + " | ".join(cells) + " |")
    lines.append("")
    for name, populations in report["calibration"].items():
        for population, cal in populations.items():
            p = cal["prob_over"]
            rec = cal["recommendation"]
            lines += [
                f"## Calibration of `{name}`, {population}: P(points > {cal['pseudo_line']})",
                "",
                f"Brier {_f(p['brier'], 4)}, expected calibration error {_f(p['ece'], 4)}, "
                f"base rate over {_pct(cal['base_rate_over'])}.",
                "",
                "| stated P(over) | n | mean stated | observed |",
                "|---|---:|---:|---:|",
                *[f"| {b['bin']} | {b['n']} | {_f(b['stated'])} | {_f(b['observed'])} |" for b in p["bins"]],
                "",
                f"Recommendation confidence at edge ≥ {rec['edge_threshold']:g} against the pseudo-line: "
                f"{rec['picks']} picks, hit rate {_pct(rec['hit_rate'])}, "
                f"expected calibration error {_f(rec['confidence']['ece'], 4)}.",
                "",
                "| confidence | n | mean stated | hit rate |",
                "|---|---:|---:|---:|",
                *[
                    f"| {b['bin']} | {b['n']} | {_f(b['stated'])} | {_f(b['observed'])} |"
                    for b in rec["confidence"]["bins"]
                ],
                "",
            ]
    return "\n".join(lines)


def write_report(result: EvaluationResult, out_dir: Path | str) -> tuple[Path, Path]:
    """report.json and report.md in out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "report.json", out / "report.md"
    json_path.write_text(json.dumps(result.report, indent=2, default=_json_default, allow_nan=True) + "\n")
    md_path.write_text(markdown_report(result.report) + "\n")
    return json_path, md_path


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value)}")


def evaluate_logs(
    paths: Sequence[Path | str], config: EvaluationConfig, progress: Progress | None = None
) -> EvaluationResult:
    """Import game-log files into a temporary DuckDB file, then `evaluate` on it."""
    from nba_props.importer import import_game_logs
    from shared.warehouse.duckdb import DuckDbWarehouse

    with tempfile.TemporaryDirectory(prefix="nba-props-eval-") as tmp:
        warehouse = DuckDbWarehouse(Path(tmp) / "logs.duckdb")
        try:
            import_game_logs(warehouse, paths, progress)
            return evaluate(warehouse, config, progress)
        finally:
            warehouse.close()
