"""The whole night, from ``POST /start`` to the last prediction row, with real processes and HTTP,
in two layouts on DuckDB and the loopback push transport: `split_night` (each service in its own
process, as in the cloud) and `embedded_night` (the shipped `EmbeddedStack`, one process).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
ACTIVE = {"loading", "publishing", "running"}
START_TIMEOUT_S = 120.0
NIGHT_TIMEOUT_S = 600.0


@dataclass
class Service:
    """A ``bench.serve`` process and how to reach it."""

    role: str
    process: subprocess.Popen[bytes]
    url: str
    info: dict[str, Any]
    log: Path

    def stats(self, http: httpx.Client, **params: str) -> dict[str, Any]:
        answer: dict[str, Any] = http.get(f"{self.url}/_bench/stats", params=params).json()
        return answer

    def stop(self) -> None:
        """SIGTERM (uvicorn finishes in-flight requests), then SIGKILL if it does not exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def service_env(**settings: str) -> dict[str, str]:
    """The caller's environment without its NBA_PROPS_* settings, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBA_PROPS_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.update({f"NBA_PROPS_{k.upper()}": v for k, v in settings.items()})
    return env


def spawn(role: str, workdir: Path, env: dict[str, str], timeout_s: float = START_TIMEOUT_S) -> Service:
    ready = workdir / f"{role}.ready.json"
    ready.unlink(missing_ok=True)
    log = workdir / f"{role}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.serve", role, "--ready", str(ready)],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout_s
    while not ready.exists():
        if process.poll() is not None:
            raise RuntimeError(f"bench {role} exited with {process.returncode}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"bench {role} did not start within {timeout_s} s:\n{_tail(log)}")
        time.sleep(0.02)
    info = json.loads(ready.read_text())
    return Service(role, process, f"http://127.0.0.1:{info['port']}", info, log)


def _fresh(workdir: Path) -> None:
    """An empty directory: a DuckDB WAL left by an earlier run would replay onto the new copy."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)


def _tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


def _percentile_ms(seconds: list[float], q: float) -> float | None:
    return round(float(np.percentile(np.asarray(seconds) * 1000.0, q)), 3) if seconds else None


def split_night(
    league_file: Path, game_date: date, model_dir: Path, workdir: Path, *, concurrency: int, poll_s: float
) -> dict[str, Any]:
    """One night with the coordinator and the worker in separate processes.

    DuckDB lets one process write a file, so the coordinator process owns a copy of the league file
    (it writes the batch rows and the skips there) and the worker process owns a second, empty file
    where its predictions land: nothing copies rows between the files, and the coordinator's
    ``/status`` does not see the worker's rows (it would in the cloud, where both write to
    BigQuery). The night is over when the worker's file holds a row for every published message (a
    prediction or a recorded rejection); the worker process reports that count and the server-side
    latency of every push request.
    """
    _fresh(workdir)
    coordinator_db = workdir / "coordinator.duckdb"
    worker_db = workdir / "worker.duckdb"
    shutil.copy(league_file, coordinator_db)
    worker_db.unlink(missing_ok=True)
    common = {"model_dir": str(model_dir), "log_level": "WARNING", "log_format": "console"}
    services: list[Service] = []
    try:
        worker = spawn("worker", workdir, service_env(duckdb_path=str(worker_db), **common))
        services.append(worker)
        coordinator = spawn(
            "coordinator",
            workdir,
            service_env(
                duckdb_path=str(coordinator_db),
                worker_push_url=f"{worker.url}/pubsub/push",
                push_concurrency=str(concurrency),
                **common,
            ),
        )
        services.append(coordinator)
        with httpx.Client(timeout=NIGHT_TIMEOUT_S + 30) as http:
            for service in services:
                http.get(f"{service.url}/readyz").raise_for_status()
            cpu_before = {s.role: s.stats(http)["cpu_s"] for s in services}
            started = time.monotonic()
            answer = http.post(f"{coordinator.url}/start", json={"game_date": game_date.isoformat()})
            start_s = time.monotonic() - started
            if answer.status_code != 202:
                raise RuntimeError(f"/start answered {answer.status_code}: {answer.text}")
            batch = answer.json()
            published = int(batch["published"])
            waited = http.get(
                f"{worker.url}/_bench/wait",
                params={"acks": str(published), "timeout_s": str(NIGHT_TIMEOUT_S)},
            ).json()
            if not waited["reached"]:
                raise RuntimeError(f"night did not finish in {NIGHT_TIMEOUT_S} s: {waited}")
            # The last acknowledgement's time, on the clock both processes share.
            wall_s = float(waited["last_ack_monotonic"]) - started
            # The answers reach the publisher right after: wait (bounded) for its books to close.
            deadline = time.monotonic() + 60
            delivery = coordinator.stats(http)
            while delivery.get("pending", 0) and time.monotonic() < deadline:
                time.sleep(poll_s)
                delivery = coordinator.stats(http)
            done = worker.stats(http, batch_id=batch["batch_id"], latencies="1")
            if done["predicted"] + done["recorded"] != published:
                raise RuntimeError(f"{published} messages acknowledged but the worker's rows say {done}")
            status = http.get(f"{coordinator.url}/status", params={"batch_id": batch["batch_id"]}).json()
        latencies: list[float] = done.pop("latencies_s")
        return {
            "players": int(batch["expected"]),
            "messages": published,
            "skipped": int(batch["skipped"]),
            "predicted": done["predicted"],
            "rejected": done["recorded"],
            "dead_lettered": delivery.get("dead_lettered"),
            "push_statuses": done["statuses"],
            "wall_s": round(wall_s, 3),
            "start_s": round(start_s, 3),
            "load_s": (status.get("load") or {}).get("batch_load_time"),
            "worker_ms_p50": _percentile_ms(latencies, 50),
            "worker_ms_p95": _percentile_ms(latencies, 95),
            "worker_ms_p99": _percentile_ms(latencies, 99),
            "worker_ms_mean": round(statistics.fmean(latencies) * 1000, 3) if latencies else None,
            "msgs_per_s": round(published / wall_s, 1),
            "coordinator_rss_mb": delivery["peak_rss_mb"],
            "worker_rss_mb": done["peak_rss_mb"],
            # RssAnon at the end of the night: the heap alone (see bench.serve.anon_rss_mb).
            "coordinator_anon_rss_mb": delivery.get("anon_rss_mb"),
            "worker_anon_rss_mb": done.get("anon_rss_mb"),
            "coordinator_cpu_s": round(delivery["cpu_s"] - cpu_before["coordinator"], 3),
            "worker_cpu_s": round(done["cpu_s"] - cpu_before["worker"], 3),
            "worker_cpu_ms_per_msg": round(1000 * (done["cpu_s"] - cpu_before["worker"]) / published, 3)
            if published
            else None,
        }
    finally:
        for service in reversed(services):
            service.stop()


def embedded_night(
    league_file: Path, game_date: date, model_dir: Path, workdir: Path, *, concurrency: int, poll_s: float
) -> dict[str, Any]:
    """One night on the shipped embedded stack: both servers in one process sharing one DuckDB file,
    the worker still reached over HTTP push envelopes. Over when the coordinator's own ``GET /status``
    says ``complete``; peak RSS is that one process's."""
    _fresh(workdir)
    database = workdir / "embedded.duckdb"
    shutil.copy(league_file, database)
    service = spawn(
        "embedded",
        workdir,
        service_env(
            duckdb_path=str(database),
            model_dir=str(model_dir),
            push_concurrency=str(concurrency),
            log_level="WARNING",
            log_format="console",
        ),
    )
    try:
        coordinator = str(service.info["coordinator_url"])
        with httpx.Client(base_url=coordinator, timeout=NIGHT_TIMEOUT_S + 30) as http:
            http.get("/readyz").raise_for_status()
            cpu_before = service.stats(http)["cpu_s"]
            started = time.perf_counter()
            answer = http.post("/start", json={"game_date": game_date.isoformat()})
            start_s = time.perf_counter() - started
            if answer.status_code != 202:
                raise RuntimeError(f"/start answered {answer.status_code}: {answer.text}")
            batch = answer.json()
            deadline = started + NIGHT_TIMEOUT_S
            while True:
                status: dict[str, Any] = http.get("/status", params={"batch_id": batch["batch_id"]}).json()
                if status["status"] not in ACTIVE:
                    break
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"night did not finish in {NIGHT_TIMEOUT_S} s: {status}")
                time.sleep(poll_s)
            wall_s = time.perf_counter() - started
            after = service.stats(http)
            rss = after["peak_rss_mb"]
        if status["status"] != "complete":
            raise RuntimeError(f"night ended {status['status']}: {status.get('problems')}")
        published = int(batch["published"])
        return {
            "players": int(batch["expected"]),
            "messages": published,
            "skipped": int(batch["skipped"]),
            "predicted": int(status["completed"]),
            "rejected": int(status["failed"]),
            "wall_s": round(wall_s, 3),
            "start_s": round(start_s, 3),
            "load_s": (status.get("load") or {}).get("batch_load_time"),
            "worker_ms_p50": None,
            "worker_ms_p95": None,
            "worker_ms_p99": None,
            "msgs_per_s": round(published / wall_s, 1),
            "coordinator_rss_mb": None,
            "worker_rss_mb": None,
            "process_rss_mb": rss,
            "process_cpu_s": round(after["cpu_s"] - cpu_before, 3),
        }
    finally:
        service.stop()
