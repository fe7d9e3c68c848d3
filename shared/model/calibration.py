"""Calibrated confidence: P(actual > line | prediction) from out-of-sample residuals.

The empirical distribution of (actual - predicted) on a chronological holdout is stored in the
manifest. The spread of points grows with the prediction (a 30-point scorer misses by more than a
5-point one), so with a large enough holdout the quantiles are kept per bin of the predicted value
(`ResidualBins`) and a prediction is calibrated with its own bin's; the pooled ones stay as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np
import numpy.typing as npt

from shared.lines import valid_line
from shared.model.manifest import ResidualBins, ResidualQuantiles

RESIDUAL_LEVELS = 201
# Bins of the predicted value for the conditional calibration: at most this many, each with at least
# MIN_RESIDUALS_PER_BIN holdout residuals (fewer residuals: pooled calibration only).
MAX_PREDICTION_BINS = 8
MIN_RESIDUALS_PER_BIN = 500

FloatArray = npt.NDArray[np.float64]


def paired(predicted: npt.ArrayLike, line: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Predictions and lines as float arrays of one shape (a missing line is NaN)."""
    pred = np.atleast_1d(np.asarray(predicted, dtype=np.float64))
    ln = np.atleast_1d(np.asarray(line, dtype=np.float64))  # None → NaN
    return np.broadcast_arrays(pred, ln)  # type: ignore[return-value]


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
        pred, ln = paired(predicted, line)
        threshold = np.floor(ln) + 0.5  # actual ≥ floor(line) + 1
        below, n = self._conditional_cdf(threshold - pred, pred)
        return self._clip(np.where(valid_line(ln), 1.0 - below, np.nan), n)

    def prob_under(self, predicted: npt.ArrayLike, line: npt.ArrayLike) -> FloatArray:
        pred, ln = paired(predicted, line)
        threshold = np.ceil(ln) - 0.5  # actual ≤ ceil(line) - 1
        below, n = self._conditional_cdf(threshold - pred, pred)
        return self._clip(np.where(valid_line(ln), below, np.nan), n)
