"""The model bundle: save, load and validate a directory of model.cbm + manifest.json; predict.

`ModelBundle.load` validates the manifest before it trusts the binary and fails loudly: no
directory or file → `ModelMissing`; any disagreement (format version, feature set, names, order or
hash, checksum, the binary's own feature names) → `ModelMismatch`. There is no fallback model and
no default confidence. Serving code: training lives in `shared.training`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from shared.errors import ModelMismatch, ModelMissing
from shared.features.sets import FEATURE_SETS, feature_set_hash
from shared.model.calibration import FloatArray, ResidualCalibration
from shared.model.manifest import MANIFEST_FILE, MODEL_FILE, BundleManifest, name_diff, read_manifest


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
        and it must be one this code computes (`shared.features.sets.FEATURE_SETS`: "v8", the
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
        manifest = read_manifest(manifest_path)
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
            diff = name_diff(manifest.feature_names, expected)
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
                f"the binary's own feature names differ: {name_diff(own_names, manifest.feature_names)}"
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
                f"feature frame differs from the bundle's: {name_diff(names, self.manifest.feature_names)}"
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
