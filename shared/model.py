"""The CatBoost V8 model bundle, its calibrated confidence, the recommendation rule and training.

A bundle is a directory (MLflow-flavor style)::

    model.cbm       the CatBoost binary
    manifest.json   format version, ordered feature names and their hash, the binary's sha256,
                    training window, holdout metrics and the holdout residual quantiles

`ModelBundle.load` validates the manifest before it trusts the binary and fails loudly: no
directory or file → `ModelMissing`; any disagreement (format version, feature names, order or
hash, checksum, the binary's own feature names) → `ModelMismatch`. There is no fallback model and
no default confidence.

Confidence is calibrated on out-of-sample residuals: P(actual > line | prediction) is read from the
empirical distribution of (actual - predicted) on a chronological holdout, stored in the manifest.
The spread of points grows with the prediction (a 30-point scorer misses by more than a 5-point
one), so when the holdout is large enough the residual quantiles are kept per bin of the predicted
value (`ResidualBins`) and a prediction is calibrated with its own bin's; the pooled quantiles stay
in the manifest as well. Measured on real logs (README.md, Model quality), the pooled version was
overconfident for the prop-like population; the binned one is within a few points.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.context_features import FEATURE_SETS
from shared.errors import ModelMismatch, ModelMissing
from shared.features import FEATURE_SET, feature_set_hash
from shared.lines import valid_line

FORMAT_VERSION = 1
MODEL_FILE = "model.cbm"
MANIFEST_FILE = "manifest.json"
RESIDUAL_LEVELS = 201
# Bins of the predicted value for the conditional calibration: at most this many, each with at least
# MIN_RESIDUALS_PER_BIN holdout residuals (fewer residuals: pooled calibration only).
MAX_PREDICTION_BINS = 8
MIN_RESIDUALS_PER_BIN = 500

# The training recipe `nba-props train`, `train_model` and `nba-props evaluate` use by default. Measured
# on the real 2015-24 logs (README.md, Model quality: train ≤ 2022-23, test 2023-24), MAE loss with 1000
# iterations at learning rate 0.05 gives a prop-like MAE of 5.400 against 5.451 for RMSE with 600
# iterations and CatBoost's own learning rate: points are right-skewed, and the median is the number
# that splits over and under evenly.
DEFAULT_LOSS_FUNCTION = "MAE"
DEFAULT_ITERATIONS = 1000
DEFAULT_LEARNING_RATE = 0.05
DEFAULT_DEPTH = 6

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[int, int], None]


# -- the manifest -----------------------------------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrainingWindow(_Frozen):
    """First and last game date of the training targets."""

    start: date
    end: date


class HoldoutMetrics(_Frozen):
    """Out-of-sample errors of the model trained before ``start`` (bias = mean(predicted - actual))."""

    start: date
    n: int = Field(ge=1)
    mae: float
    rmse: float
    bias: float


class ResidualQuantiles(_Frozen):
    """Quantiles of holdout residuals (actual - predicted) at increasing levels from 0 to 1."""

    levels: tuple[float, ...]
    values: tuple[float, ...]
    n: int = Field(ge=1)

    @model_validator(mode="after")
    def _well_formed(self) -> Self:
        levels = np.asarray(self.levels, dtype=np.float64)
        values = np.asarray(self.values, dtype=np.float64)
        if len(levels) < 2 or len(levels) != len(values):
            raise ValueError("levels and values must have the same length, at least 2")
        if levels[0] != 0.0 or levels[-1] != 1.0 or np.any(np.diff(levels) <= 0):
            raise ValueError("levels must increase strictly from 0 to 1")
        if not np.all(np.isfinite(values)) or np.any(np.diff(values) < 0):
            raise ValueError("residual quantiles must be finite and non-decreasing")
        return self


class ResidualBins(_Frozen):
    """Holdout residual quantiles per bin of the predicted value; ``edges`` split the bins
    (a prediction p belongs to bin ``searchsorted(edges, p, side="right")``)."""

    edges: tuple[float, ...]
    quantiles: tuple[ResidualQuantiles, ...]

    @model_validator(mode="after")
    def _well_formed(self) -> Self:
        edges = np.asarray(self.edges, dtype=np.float64)
        if len(self.quantiles) != len(edges) + 1 or len(edges) < 1:
            raise ValueError("residual bins need one more quantile set than edges, at least two")
        if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
            raise ValueError("bin edges must be finite and strictly increasing")
        return self


class BundleManifest(_Frozen):
    """manifest.json: everything needed to decide whether to trust model.cbm."""

    format_version: int
    model_type: Literal["catboost_regressor"] = "catboost_regressor"
    model_version: str
    feature_set: str
    feature_names: tuple[str, ...]
    feature_set_hash: str
    catboost_version: str
    training_window: TrainingWindow
    train_rows: int = Field(ge=1)
    holdout: HoldoutMetrics
    residual_quantiles: ResidualQuantiles
    residual_quantiles_by_prediction: ResidualBins | None = None
    params: dict[str, float | int | str | bool | None]
    cbm_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    created_at: datetime


# -- calibrated probabilities -----------------------------------------------------------------------


@dataclass(frozen=True)
class ResidualCalibration:
    """P(actual > line | predicted) from the empirical residual distribution.

    Points are integers, so "over" means actual ≥ floor(line) + 1 and "under" actual ≤ ceil(line) - 1;
    with the continuity correction both become a residual threshold at a half point. At a line of
    20.5 over and under add up to 1; at 20 the push (actual == 20) is neither.
    """

    levels: FloatArray
    values: FloatArray
    n: int
    # Conditional on the prediction: bin edges and one calibration per bin (empty: pooled only).
    edges: FloatArray | None = None
    bins: tuple[ResidualCalibration, ...] = ()

    @classmethod
    def from_residuals(
        cls,
        residuals: npt.ArrayLike,
        n_levels: int = RESIDUAL_LEVELS,
        *,
        predicted: npt.ArrayLike | None = None,
    ) -> Self:
        """Pooled quantiles, plus per-bin quantiles of ``predicted`` when there are enough residuals."""
        res = np.asarray(residuals, dtype=np.float64)
        if res.size == 0 or not np.all(np.isfinite(res)):
            raise ValueError("calibration needs at least one finite residual")
        levels = np.linspace(0.0, 1.0, n_levels)
        pooled = cls(levels=levels, values=np.quantile(res, levels), n=int(res.size))
        if predicted is None:
            return pooled
        pred = np.asarray(predicted, dtype=np.float64)
        if pred.shape != res.shape or not np.all(np.isfinite(pred)):
            raise ValueError("predicted must be finite, one per residual")
        n_bins = min(MAX_PREDICTION_BINS, res.size // MIN_RESIDUALS_PER_BIN)
        if n_bins < 2:
            return pooled
        edges = np.unique(np.quantile(pred, np.linspace(0.0, 1.0, n_bins + 1)[1:-1]))
        which = np.searchsorted(edges, pred, side="right")
        counts = np.bincount(which, minlength=len(edges) + 1)
        if len(edges) < 1 or counts.min() < MIN_RESIDUALS_PER_BIN // 2:
            return pooled
        bins = tuple(cls.from_residuals(res[which == b], n_levels) for b in range(len(edges) + 1))
        return cls(levels=pooled.levels, values=pooled.values, n=pooled.n, edges=edges, bins=bins)

    @classmethod
    def from_quantiles(cls, quantiles: ResidualQuantiles, by_prediction: ResidualBins | None = None) -> Self:
        pooled = cls(
            levels=np.asarray(quantiles.levels, dtype=np.float64),
            values=np.asarray(quantiles.values, dtype=np.float64),
            n=quantiles.n,
        )
        if by_prediction is None:
            return pooled
        return cls(
            levels=pooled.levels,
            values=pooled.values,
            n=pooled.n,
            edges=np.asarray(by_prediction.edges, dtype=np.float64),
            bins=tuple(cls.from_quantiles(q) for q in by_prediction.quantiles),
        )

    def to_bins(self) -> ResidualBins | None:
        if self.edges is None or not self.bins:
            return None
        return ResidualBins(
            edges=tuple(float(e) for e in self.edges), quantiles=tuple(b.to_quantiles() for b in self.bins)
        )

    def to_quantiles(self) -> ResidualQuantiles:
        return ResidualQuantiles(
            levels=tuple(float(v) for v in self.levels),
            values=tuple(float(v) for v in self.values),
            n=self.n,
        )

    def cdf(self, x: FloatArray) -> FloatArray:
        """P(residual ≤ x), linear between quantiles; tied quantiles take their highest level."""
        reversed_values = self.values[::-1]
        xs, first_in_reversed = np.unique(reversed_values, return_index=True)
        ys = self.levels[::-1][first_in_reversed]
        out: FloatArray = np.interp(x, xs, ys, left=0.0, right=1.0)
        return out

    def _conditional_cdf(self, x: FloatArray, pred: FloatArray) -> tuple[FloatArray, FloatArray]:
        """P(residual ≤ x | prediction) and, per row, the number of residuals behind it."""
        if self.edges is None or not self.bins:
            return self.cdf(x), np.full(x.shape, float(self.n))
        which = np.searchsorted(self.edges, np.nan_to_num(pred), side="right")
        out = np.empty(x.shape)
        sizes = np.empty(x.shape)
        for b, calibration in enumerate(self.bins):
            rows = which == b
            out[rows] = calibration.cdf(x[rows])
            sizes[rows] = calibration.n
        return out, sizes

    @staticmethod
    def _clip(p: FloatArray, n: FloatArray) -> FloatArray:
        # A finite holdout cannot justify certainty: keep 1/(n+1) away from 0 and 1.
        eps = 1.0 / (n + 1.0)
        return np.where(np.isnan(p), np.nan, np.clip(p, eps, 1.0 - eps))

    def prob_over(self, predicted: npt.ArrayLike, line: npt.ArrayLike) -> FloatArray:
        pred, ln = _pair(predicted, line)
        threshold = np.floor(ln) + 0.5  # actual ≥ floor(line) + 1
        below, n = self._conditional_cdf(threshold - pred, pred)
        return self._clip(np.where(valid_line(ln), 1.0 - below, np.nan), n)

    def prob_under(self, predicted: npt.ArrayLike, line: npt.ArrayLike) -> FloatArray:
        pred, ln = _pair(predicted, line)
        threshold = np.ceil(ln) - 0.5  # actual ≤ ceil(line) - 1
        below, n = self._conditional_cdf(threshold - pred, pred)
        return self._clip(np.where(valid_line(ln), below, np.nan), n)


def _pair(predicted: npt.ArrayLike, line: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    pred = np.atleast_1d(np.asarray(predicted, dtype=np.float64))
    ln = np.atleast_1d(np.asarray(line, dtype=np.float64))  # None → NaN
    return np.broadcast_arrays(pred, ln)  # type: ignore[return-value]


# -- recommendations --------------------------------------------------------------------------------

Side = Literal["OVER", "UNDER", "PASS", "NO_LINE"]


@dataclass(frozen=True)
class Recommendation:
    """What gets published for one player: NO_LINE carries no edge and no confidence."""

    predicted_points: float
    line: float | None
    edge: float | None
    recommendation: Side
    confidence: float | None
    prob_over: float | None


def recommend(
    predicted: npt.ArrayLike,
    line: npt.ArrayLike,
    prob_over: npt.ArrayLike,
    *,
    edge_threshold: float,
    floor: float,
    ceiling: float,
    prob_under: npt.ArrayLike | None = None,
) -> list[Recommendation]:
    """One recommendation per row.

    The prediction is clamped to [floor, ceiling] and edge = clamped - line. |edge| < threshold →
    PASS, else OVER or UNDER by its sign; no valid line → NO_LINE. Confidence is the probability of
    the recommended side: prob_over for OVER, prob_under (default 1 - prob_over, which counts a push
    as not-over) for UNDER, the larger of the two for PASS.
    """
    pred, ln = _pair(predicted, line)
    p_over = np.broadcast_to(np.asarray(prob_over, dtype=np.float64), pred.shape)
    p_under = (
        1.0 - p_over
        if prob_under is None
        else np.broadcast_to(np.asarray(prob_under, dtype=np.float64), pred.shape)
    )
    clamped = np.clip(pred, floor, ceiling)
    has_line = valid_line(ln)
    out: list[Recommendation] = []
    for i in range(pred.shape[0]):
        points = float(clamped[i])
        if not has_line[i]:
            out.append(Recommendation(points, None, None, "NO_LINE", None, None))
            continue
        edge = points - float(ln[i])
        over, under = float(p_over[i]), float(p_under[i])
        side: Side
        if abs(edge) < edge_threshold:
            side, confidence = "PASS", max(over, under)
        elif edge > 0:
            side, confidence = "OVER", over
        else:
            side, confidence = "UNDER", under
        out.append(Recommendation(points, float(ln[i]), edge, side, confidence, over))
    return out


# -- the bundle -------------------------------------------------------------------------------------


def _catboost_version() -> str:
    import catboost

    return str(catboost.__version__)


class ModelBundle:
    """A loaded, validated model: predictions and calibrated probabilities."""

    def __init__(self, manifest: BundleManifest, model: Any, cbm: bytes) -> None:
        if hashlib.sha256(cbm).hexdigest() != manifest.cbm_sha256:
            raise ModelMismatch("model binary does not match the manifest's sha256")
        self.manifest = manifest
        self._model = model
        self._cbm = cbm
        self.calibration = ResidualCalibration.from_quantiles(
            manifest.residual_quantiles, manifest.residual_quantiles_by_prediction
        )

    @property
    def model_version(self) -> str:
        return self.manifest.model_version

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.manifest.feature_names

    @property
    def feature_set(self) -> str:
        return self.manifest.feature_set

    @classmethod
    def load(
        cls,
        path: Path | str,
        expected_features: Sequence[str] | None = None,
        *,
        expected_feature_set: str | None = None,
    ) -> ModelBundle:
        """Read and validate a bundle directory; the binary is only parsed once the manifest agrees.

        Without expectations the manifest's ``feature_set`` decides which features the bundle gets,
        and it must be one this code computes (`shared.context_features.FEATURE_SETS`: "v8", the
        default contract, "v8hist" or "v8ctx"); its names, order and hash must then be exactly that
        set's.
        """
        root = Path(path)
        if not root.is_dir():
            raise ModelMissing(f"no model bundle directory at {root}")
        manifest_path, model_path = root / MANIFEST_FILE, root / MODEL_FILE
        for required in (manifest_path, model_path):
            if not required.is_file():
                raise ModelMissing(f"model bundle {root} has no {required.name}")
        manifest = _read_manifest(manifest_path)
        if expected_feature_set is not None and manifest.feature_set != expected_feature_set:
            raise ModelMismatch(
                f"bundle is for feature set {manifest.feature_set!r}, "
                f"this code computes {expected_feature_set!r}"
            )
        if manifest.feature_set not in FEATURE_SETS:
            raise ModelMismatch(
                f"bundle is for feature set {manifest.feature_set!r}, "
                f"this code computes {sorted(FEATURE_SETS)}"
            )
        expected = (
            tuple(expected_features) if expected_features is not None else FEATURE_SETS[manifest.feature_set]
        )
        if manifest.feature_names != expected:
            diff = _name_diff(manifest.feature_names, expected)
            raise ModelMismatch(f"bundle feature names differ from this code's: {diff}")
        if manifest.feature_set_hash != feature_set_hash(manifest.feature_names):
            raise ModelMismatch("manifest feature_set_hash does not match its own feature names")
        if manifest.feature_set_hash != feature_set_hash(expected):
            raise ModelMismatch("manifest feature_set_hash differs from this code's feature set hash")
        cbm = model_path.read_bytes()
        digest = hashlib.sha256(cbm).hexdigest()
        if digest != manifest.cbm_sha256:
            raise ModelMismatch(
                f"{MODEL_FILE} sha256 {digest[:12]}… differs from the manifest's {manifest.cbm_sha256[:12]}…"
            )
        model = _load_catboost(cbm)
        own_names = tuple(model.feature_names_ or ())
        if own_names != manifest.feature_names:
            raise ModelMismatch(
                f"the binary's own feature names differ: {_name_diff(own_names, manifest.feature_names)}"
            )
        return cls(manifest, model, cbm)

    def save(self, path: Path | str) -> Path:
        """Write the bundle atomically: a sibling temporary directory renamed into place.

        An existing bundle is swapped out and removed; in between a reader sees no bundle
        (ModelMissing), never half of one.
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        try:
            _write_synced(staging / MODEL_FILE, self._cbm)
            _write_synced(staging / MANIFEST_FILE, self.manifest.model_dump_json(indent=2).encode())
            staging.chmod(0o755)
            if target.exists():
                retired = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
                os.replace(target, retired)
                os.replace(staging, target)
                shutil.rmtree(retired, ignore_errors=True)
            else:
                os.replace(staging, target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return target

    def predict(self, features: pd.DataFrame, *, thread_count: int = 1) -> FloatArray:
        """Predicted points per row; the frame's columns must be the manifest's, in order."""
        names = tuple(str(c) for c in features.columns)
        if names != self.manifest.feature_names:
            raise ModelMismatch(
                f"feature frame differs from the bundle's: {_name_diff(names, self.manifest.feature_names)}"
            )
        values = features.to_numpy(dtype=np.float64)
        out: FloatArray = np.asarray(self._model.predict(values, thread_count=thread_count), dtype=np.float64)
        return out

    def prob_over(self, predicted: npt.ArrayLike, line: npt.ArrayLike) -> FloatArray:
        """P(actual > line | predicted), calibrated on the holdout residuals; NaN without a line."""
        return self.calibration.prob_over(predicted, line)

    def prob_under(self, predicted: npt.ArrayLike, line: npt.ArrayLike) -> FloatArray:
        """P(actual < line | predicted); for a whole-number line the push is excluded."""
        return self.calibration.prob_under(predicted, line)


def _name_diff(got: Sequence[str], want: Sequence[str]) -> str:
    missing = [n for n in want if n not in got]
    extra = [n for n in got if n not in want]
    if missing or extra:
        return f"missing {missing}, unexpected {extra}"
    first = next((i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b), None)
    return (
        f"same names, different order (first at position {first}: {got[first]!r} vs {want[first]!r})"
        if first is not None
        else "no difference"
    )


def _read_manifest(path: Path) -> BundleManifest:
    try:
        raw = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelMismatch(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ModelMismatch(f"{path} is not a JSON object")
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelMismatch(f"bundle format version {version!r}, this code reads {FORMAT_VERSION}")
    try:
        return BundleManifest.model_validate(raw)
    except ValidationError as exc:
        raise ModelMismatch(
            f"invalid manifest {path}: {exc.error_count()} errors, first: {exc.errors()[0]['msg']}"
        ) from exc


def _load_catboost(cbm: bytes) -> Any:
    from catboost import CatBoostError, CatBoostRegressor

    model = CatBoostRegressor()
    try:
        model.load_model(blob=cbm)
    except CatBoostError as exc:
        raise ModelMismatch(f"{MODEL_FILE} is not a loadable CatBoost model: {exc}") from exc
    return model


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _model_bytes(model: Any) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / MODEL_FILE
        model.save_model(str(file), format="cbm")
        return file.read_bytes()


# -- training ---------------------------------------------------------------------------------------


class _ProgressCallback:
    """CatBoost user callback that reports finished iterations (CatBoost counts from 1)."""

    def __init__(self, report: Progress, offset: int, total: int) -> None:
        self._report, self._offset, self._total = report, offset, total

    def after_iteration(self, info: Any) -> bool:
        self._report(self._offset + int(info.iteration), self._total)
        return True


def _fit(
    x: pd.DataFrame,
    y: FloatArray,
    params: dict[str, Any],
    progress: Progress | None,
    offset: int,
    total: int,
) -> Any:
    from catboost import CatBoostRegressor

    model = CatBoostRegressor(**params)
    callbacks = [_ProgressCallback(progress, offset, total)] if progress else None
    model.fit(x, y, callbacks=callbacks)
    return model


def train_bundle(
    features: pd.DataFrame,
    target: npt.ArrayLike,
    *,
    dates: npt.ArrayLike | pd.Series,
    iterations: int = DEFAULT_ITERATIONS,
    holdout_fraction: float = 0.15,
    holdout_start: date | None = None,
    seed: int = 0,
    depth: int = DEFAULT_DEPTH,
    learning_rate: float | None = DEFAULT_LEARNING_RATE,
    loss_function: str = DEFAULT_LOSS_FUNCTION,
    thread_count: int = 2,
    refit: bool = True,
    progress: Progress | None = None,
    created_at: datetime | None = None,
    feature_set: str = FEATURE_SET,
) -> ModelBundle:
    """Train CatBoost on the features of ``feature_set`` (V8 by default) with a chronological holdout.

    The last ``holdout_fraction`` of the distinct game dates (or every date from ``holdout_start``)
    is held out: a model trained on the earlier dates gives the holdout metrics and the residuals
    that calibrate confidence. With ``refit`` the shipped model is then retrained on every row with
    the same settings (its calibration is slightly conservative: it has seen more data).
    The defaults are the measured recipe (`DEFAULT_LOSS_FUNCTION` …); ``learning_rate=None`` lets
    CatBoost choose one, which the manifest then records.
    ``progress(done, total)`` counts boosting iterations across both fits.
    """
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}; this code computes {sorted(FEATURE_SETS)}")
    names = FEATURE_SETS[feature_set]
    if tuple(features.columns) != names:
        raise ValueError(
            f"features must have the {feature_set} columns in order: "
            f"{_name_diff(tuple(features.columns), names)}"
        )
    x = features.astype(np.float64)
    if np.isinf(x.to_numpy()).any():
        raise ValueError("features contain infinite values")
    y = np.asarray(target, dtype=np.float64)
    if y.shape != (len(x),) or not np.all(np.isfinite(y)):
        raise ValueError("target must be finite, one value per feature row")
    days = pd.to_datetime(pd.Series(np.asarray(dates))).to_numpy().astype("datetime64[D]")
    if days.shape != (len(x),) or np.isnat(days).any():
        raise ValueError("dates must be given for every row")

    distinct = np.unique(days)
    if len(distinct) < 2:
        raise ValueError("a chronological holdout needs at least two game dates")
    if holdout_start is not None:
        cut = np.datetime64(holdout_start, "D")
    else:
        if not 0.0 < holdout_fraction < 1.0:
            raise ValueError("holdout_fraction must be in (0, 1)")
        cut = distinct[min(len(distinct) - 1, max(1, round(len(distinct) * (1.0 - holdout_fraction))))]
    fit_rows, hold_rows = days < cut, days >= cut
    if not fit_rows.any() or not hold_rows.any():
        raise ValueError(f"holdout start {cut} leaves no rows on one side")

    params: dict[str, Any] = {
        "loss_function": loss_function,
        "iterations": iterations,
        "depth": depth,
        "learning_rate": learning_rate,
        "random_seed": seed,
        "thread_count": thread_count,
        "allow_writing_files": False,
        "verbose": False,
    }
    total = iterations * (2 if refit else 1)
    model = _fit(x.loc[fit_rows], y[fit_rows], params, progress, 0, total)
    predicted = np.asarray(model.predict(x.loc[hold_rows].to_numpy()), dtype=np.float64)
    residuals = y[hold_rows] - predicted
    calibration = ResidualCalibration.from_residuals(residuals, predicted=predicted)
    if refit:
        model = _fit(x, y, params, progress, iterations, total)

    params["learning_rate"] = float(model.learning_rate_)  # the one CatBoost chose when None
    cbm = _model_bytes(model)
    digest = hashlib.sha256(cbm).hexdigest()
    created = created_at or datetime.now(UTC)
    manifest = BundleManifest(
        format_version=FORMAT_VERSION,
        model_version=f"{feature_set}-{created:%Y%m%d}-{digest[:8]}",
        feature_set=feature_set,
        feature_names=names,
        feature_set_hash=feature_set_hash(names),
        catboost_version=_catboost_version(),
        training_window=TrainingWindow(start=_as_date(days.min()), end=_as_date(days.max())),
        train_rows=int(len(x) if refit else fit_rows.sum()),
        holdout=HoldoutMetrics(
            start=_as_date(cut),
            n=int(residuals.size),
            mae=float(np.mean(np.abs(residuals))),
            rmse=float(np.sqrt(np.mean(residuals**2))),
            bias=float(np.mean(-residuals)),
        ),
        residual_quantiles=calibration.to_quantiles(),
        residual_quantiles_by_prediction=calibration.to_bins(),
        params={**{k: v for k, v in params.items() if k != "verbose"}, "refit": refit},
        cbm_sha256=digest,
        created_at=created,
    )
    return ModelBundle(manifest, model, cbm)


def _as_date(day: np.datetime64) -> date:
    value = day.astype("datetime64[D]").item()
    if not isinstance(value, date):
        raise ValueError(f"not a date: {day}")
    return value
