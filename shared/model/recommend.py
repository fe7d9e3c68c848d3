"""The betting rule: a prediction, a line and calibrated probabilities in, OVER / UNDER / PASS out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from shared.lines import valid_line
from shared.model.calibration import paired

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
    pred, ln = paired(predicted, line)
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
