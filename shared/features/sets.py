"""The feature sets: the one registry of what a model bundle may be trained on, and the worker's
feature row.

A set is a name, its ordered feature names and their hash; a bundle's manifest names its set and
`ModelBundle.load` refuses any other. A new set is one line in `FEATURE_SETS`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from shared.contracts import PredictionRequest
from shared.errors import PoisonMessage
from shared.features.context import CONTEXT_FEATURES, context_features, context_frame
from shared.features.history import HISTORY_FEATURES
from shared.features.v8 import HISTORY_DERIVED_FEATURES, V8_FEATURES, compute_features, features_from_request
from shared.features.window import TARGET_COLUMNS

# The default contract; the others ship only as separately versioned bundles.
FEATURE_SET = "v8"

V8CTX_FEATURES: tuple[str, ...] = (*V8_FEATURES, *CONTEXT_FEATURES)
V8HIST_FEATURES: tuple[str, ...] = (*V8_FEATURES, *HISTORY_FEATURES)

FEATURE_SETS: Mapping[str, tuple[str, ...]] = {
    "v8": V8_FEATURES,
    "v8ctx": V8CTX_FEATURES,
    "v8hist": V8HIST_FEATURES,
}


def feature_set_hash(names: Sequence[str]) -> str:
    """First 16 hex digits of sha256 over the ordered feature names joined by ","."""
    return hashlib.sha256(",".join(names).encode()).hexdigest()[:16]


FEATURE_SET_HASHES: Mapping[str, str] = {
    name: feature_set_hash(names) for name, names in FEATURE_SETS.items()
}


def feature_names(feature_set: str) -> tuple[str, ...]:
    """The ordered feature names of a feature set this code computes; ValueError otherwise."""
    try:
        return FEATURE_SETS[feature_set]
    except KeyError:
        raise ValueError(
            f"unknown feature set {feature_set!r}; this code computes {sorted(FEATURE_SETS)}"
        ) from None


def union_of(feature_sets: Sequence[str]) -> tuple[str, ...]:
    """Every feature of the named sets, each once, in order of first appearance."""
    return tuple(dict.fromkeys(name for fs in feature_sets for name in feature_names(fs)))


def feature_columns(
    history: pd.DataFrame,
    targets: pd.DataFrame,
    names: Sequence[str],
    context: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The features ``names`` for every target: those of the history and the game (V8, the
    long-memory ones) from `compute_features`, the context features from ``context``.

    ``context`` holds the context features already computed (serving: from the payload); without it
    they are computed from ``targets``, which then needs `CONTEXT_INPUT_COLUMNS` (training).
    """
    wanted = list(names)
    own = [name for name in wanted if name in HISTORY_DERIVED_FEATURES]
    base = compute_features(history, targets[list(TARGET_COLUMNS)], own) if own else None
    if base is not None and len(own) == len(wanted):
        return base[wanted]
    extra = context if context is not None else context_features(targets)
    extra = extra.set_axis(targets.index)
    return (extra if base is None else pd.concat([base, extra], axis=1))[wanted]


def validate_feature_frame(frame: pd.DataFrame, expected: Sequence[str] = V8_FEATURES) -> None:
    """Refuse a feature frame a model must not see: wrong columns or order, non-float, inf."""
    wanted = tuple(expected)
    names = tuple(str(c) for c in frame.columns)
    if names != wanted:
        missing = [c for c in wanted if c not in names]
        extra = [c for c in names if c not in wanted]
        detail = f"missing {missing}, unexpected {extra}" if missing or extra else "columns out of order"
        raise PoisonMessage("invalid_features", detail)
    non_float = [c for c, dtype in frame.dtypes.items() if dtype != np.float64]
    if non_float:
        raise PoisonMessage("invalid_features", f"non-float64 columns {non_float}")
    values = frame.to_numpy(dtype=np.float64)
    if np.isinf(values).any():
        bad = [c for c, col in zip(names, values.T, strict=True) if np.isinf(col).any()]
        raise PoisonMessage("invalid_features", f"infinite values in {bad}")


def request_features(request: PredictionRequest, feature_set: str) -> pd.DataFrame:
    """The worker's validated feature row for one message: V8 (and for "v8hist" the long-memory
    features) straight from the payload's game and history, plus, for "v8ctx", the context features
    the coordinator computed and carried in ``request.context``."""
    names = feature_names(feature_set)
    own = [name for name in names if name in HISTORY_DERIVED_FEATURES]
    features = features_from_request(request, own)
    if len(own) != len(names):
        extra = context_frame([request.context]).set_axis(features.index)
        features = pd.concat([features, extra], axis=1)[list(names)]
    validate_feature_frame(features, names)
    return features
