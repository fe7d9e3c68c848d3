"""manifest.json: what a saved model says about itself, read and checked before the binary is trusted.

A bundle is a directory (MLflow-flavor style): ``model.cbm`` (the CatBoost binary) and
``manifest.json`` (format version, ordered feature names and their hash, the binary's sha256,
training window, holdout metrics and the holdout residual quantiles).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.errors import ModelMismatch

FORMAT_VERSION = 1
MODEL_FILE = "model.cbm"
MANIFEST_FILE = "manifest.json"


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


def read_manifest(path: Path) -> BundleManifest:
    """The manifest at ``path``; `ModelMismatch` for anything but a valid one of this format version."""
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


def name_diff(got: Sequence[str], want: Sequence[str]) -> str:
    """How two ordered lists of feature names differ, for an error message."""
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
