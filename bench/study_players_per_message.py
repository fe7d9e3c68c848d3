"""Would several players per message pay? A measurement to decide on, not a feature:
``python -m bench.study_players_per_message LEAGUE.duckdb MODEL_DIR`` (from ``python -m bench
--keep-workdir``: ``<workdir>/leagues/league_450.duckdb`` and ``<workdir>/model``).

The worker's CPU per player, in one process without HTTP, when each message carries one player (the
real `PredictionHandler`) against a *sketch* of a message carrying N players (one envelope, one
model call, one append of N rows). Nothing in the services uses the sketch.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.loader import NoPublisher
from coordinator.batches import BatchCoordinator
from shared.contracts import PredictionRequest, PushEnvelope, parse_envelope, request_from_envelope
from shared.features.sets import validate_feature_frame
from shared.features.v8 import features_from_request
from shared.logging import configure_logging
from shared.model.bundle import ModelBundle
from shared.model.recommend import recommend
from shared.settings import LogFormat, Settings
from shared.warehouse.duckdb import DuckDbWarehouse
from worker.predict import PredictionHandler


def _sketch_rows(
    bundle: ModelBundle,
    requests: list[PredictionRequest],
    settings: Settings,
    written: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """The rows of one N-player message: one feature frame and one model call for all N; each row is
    the worker's own row for its request (`written`, made beforehand) with this call's prediction."""
    features = pd.concat([features_from_request(r) for r in requests], ignore_index=True)
    validate_feature_frame(features)
    predicted = bundle.predict(features)
    lines = np.array([r.line.line if r.line else np.nan for r in requests], dtype=float)
    prob_over = bundle.prob_over(predicted, lines)
    recs = recommend(
        predicted,
        lines,
        prob_over,
        prob_under=bundle.prob_under(predicted, lines),
        edge_threshold=settings.edge_threshold,
        floor=settings.prediction_floor,
        ceiling=settings.prediction_ceiling,
    )
    now = datetime.now(UTC)
    rows = []
    for request, rec, values in zip(requests, recs, features.to_numpy(), strict=True):
        named = {k: (None if v != v else float(v)) for k, v in zip(features.columns, values, strict=True)}
        features_json = json.dumps(named, separators=(",", ":"))
        row = {**written[request.prediction_id()], **dataclasses.asdict(rec)}
        rows.append({**row, "features_json": features_json, "written_at": now})
    return rows


def _requests(payloads: list[dict[str, Any]], size: int) -> list[PredictionRequest]:
    """The requests of an N-player message, in a batch of their own (their rows are new rows)."""
    return [PredictionRequest.model_validate({**p, "batch_id": f"{p['batch_id']}-{size}"}) for p in payloads]


def main(league_file: Path, model_dir: Path, game_date: date | None = None) -> None:
    settings = Settings(model_dir=model_dir, log_level="WARNING", log_format=LogFormat.CONSOLE)
    configure_logging(settings)
    source = DuckDbWarehouse(league_file, read_only=True)
    try:
        unplayed = source.sql(
            "SELECT MIN(s.game_date) AS d FROM schedule s"
            " WHERE NOT EXISTS (SELECT 1 FROM player_game_logs l WHERE l.game_id = s.game_id)"
        )
        day = game_date or pd.Timestamp(unplayed["d"].iloc[0]).date()
        payloads = [
            r.to_bytes() for r in BatchCoordinator(source, NoPublisher(), settings).load(day, "s").requests
        ]
    finally:
        source.close()
    bundle = ModelBundle.load(model_dir)
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = DuckDbWarehouse(Path(tmp) / "study.duckdb")
        warehouse.create_schema()
        handler = PredictionHandler(bundle, warehouse, settings)
        bodies = [
            json.dumps(PushEnvelope.wrap(p, {}, f"m{i}", 1, "s")).encode() for i, p in enumerate(payloads)
        ]
        cpu = time.process_time()
        for body in bodies:
            envelope = parse_envelope(body)
            warehouse.append("predictions_raw", [handler.predict(request_from_envelope(envelope), envelope)])
        one = (time.process_time() - cpu) / len(payloads)
        print(f"1 player per message (today's handler): {1000 * one:.2f} ms CPU per player")
        for size in (5, 25, 100):
            chunks = [payloads[i : i + size] for i in range(0, len(payloads), size)]
            envelopes = [
                json.dumps(PushEnvelope.wrap(b"[" + b",".join(c) + b"]", {}, f"c{size}-{i}", 1, "s")).encode()
                for i, c in enumerate(chunks)
            ]
            # The rows the worker would write, made outside the measurement: the sketch only swaps in
            # its own prediction, features and time.
            expected = _requests([json.loads(p) for p in payloads], size)
            written = {r.prediction_id(): handler.predict(r) for r in expected}
            cpu = time.process_time()
            for body in envelopes:
                envelope = parse_envelope(body)
                data = json.loads(base64.b64decode(envelope.message.data or ""))
                rows = _sketch_rows(bundle, _requests(data, size), settings, written)
                warehouse.append("predictions_raw", rows)
            many = (time.process_time() - cpu) / len(payloads)
            print(f"{size} players per message (sketch): {1000 * many:.2f} ms CPU per player")
        warehouse.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
