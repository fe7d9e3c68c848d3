"""Start and stop the BigQuery emulator (bqemulator 1.4.0) as a subprocess, for tests only.

It lives in its own virtualenv (``scripts/bqemulator-venv.sh``: DuckDB 1.5.5 with its extensions
pre-installed), so its pins never touch the project's environment; tests reach it with the real
``google-cloud-bigquery`` client over HTTP. It runs jobs synchronously (one slow query blocks the
whole server) and ignores SIGTERM while a query runs, hence the SIGKILL fallback in ``stop``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

__all__ = [
    "DEFAULT_VENV",
    "BigQueryEmulator",
    "EmulatorStartError",
    "emulator_venv",
    "emulator_venv_ready",
    "free_loopback_ports",
    "setup_command",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VENV = REPO_ROOT / ".venv-bqemu"
# Both names are written by scripts/bqemulator-venv.sh: keep them in step.
STAMP_NAME = ".bqemu-installed"
DUCKDB_HOME_NAME = "duckdb-home"

_LOOPBACK = "127.0.0.1"
_STOP_GRACE_S = 3.0  # idle, the emulator exits ~0.5 s after SIGTERM; busy, it never does
_KILL_WAIT_S = 5.0
_LOG_TAIL_CHARS = 4000
# The loop-back ports are picked before the emulator binds them, so another process can take one
# in between; a start that fails on a taken port is retried on fresh ports this many times.
_PORT_ATTEMPTS = 3
# How a taken port shows in the log: uvicorn (REST) and grpc (gRPC) word it differently.
_PORT_TAKEN_MARKERS = ("address already in use", "failed to bind to address")


class EmulatorStartError(RuntimeError):
    """The emulator exited or did not answer in time; the message carries its log tail."""


def emulator_venv() -> Path:
    """The emulator's virtualenv: ``$BQEMU_VENV`` if set, else ``.venv-bqemu`` in the repo root."""
    override = os.environ.get("BQEMU_VENV")
    return Path(override).resolve() if override else DEFAULT_VENV


def emulator_venv_ready(venv: Path) -> bool:
    """True when the setup script completed there (its stamp is written last)."""
    return (venv / STAMP_NAME).is_file() and (venv / "bin" / "bqemulator").is_file()


def setup_command(venv: Path) -> str:
    """The command that creates ``venv``, for messages telling a person what to run."""
    return f"bash {REPO_ROOT / 'scripts' / 'bqemulator-venv.sh'} {venv}"


def free_loopback_ports(count: int = 2) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 right now.

    The sockets stay open until all ports are chosen so the kernel cannot hand out one port twice.
    """
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((_LOOPBACK, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _die_with_parent() -> None:
    """In the child before exec (Linux): get SIGKILL when the parent dies.

    Without it, a test run killed hard (pytest-timeout's thread method, a CI stop) leaves an
    emulator holding ~400 MB and two ports behind.
    """
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


class BigQueryEmulator:
    """One bqemulator process on loop-back ports; a context manager.

    >>> with BigQueryEmulator(venv, project="p") as emulator:
    ...     client = emulator.client()
    """

    def __init__(
        self,
        venv: Path,
        *,
        project: str,
        start_timeout_s: float = 60.0,
        log_level: str = "warning",
    ) -> None:
        self.venv = venv
        self.project = project
        self.start_timeout_s = start_timeout_s
        self.log_level = log_level
        self.rest_port = 0
        self.grpc_port = 0
        self.startup_s = 0.0
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._log_path: Path | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The REST base URL, as ``ClientOptions(api_endpoint=...)`` wants it."""
        return f"http://{_LOOPBACK}:{self.rest_port}"

    @property
    def grpc_endpoint(self) -> str:
        """``host:port`` of the Storage Read/Write gRPC API."""
        return f"{_LOOPBACK}:{self.grpc_port}"

    def client(self) -> bigquery.Client:
        """A real BigQuery client pointed at this emulator, with no credentials."""
        return bigquery.Client(
            project=self.project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=self.endpoint),
        )

    def start(self) -> None:
        """Start the process and return once its REST API answers."""
        if self._process is not None:
            raise RuntimeError("emulator already started")
        executable = self.venv / "bin" / "bqemulator"
        if not executable.is_file():
            raise EmulatorStartError(f"{executable} not found; run: {setup_command(self.venv)}")
        self._workdir = Path(tempfile.mkdtemp(prefix="bqemu-"))
        began = time.monotonic()
        try:
            for attempt in range(1, _PORT_ATTEMPTS + 1):
                self.rest_port, self.grpc_port = free_loopback_ports(2)
                try:
                    self._spawn(executable)
                    self._wait_until_ready()
                    break
                except EmulatorStartError as error:
                    self._terminate()
                    port_taken = any(marker in str(error).lower() for marker in _PORT_TAKEN_MARKERS)
                    if attempt == _PORT_ATTEMPTS or not port_taken:
                        raise
        except BaseException:
            # Also on Ctrl-C or a pytest timeout: no half-started emulator may outlive the caller.
            self.stop()
            raise
        self.startup_s = time.monotonic() - began

    def stop(self) -> None:
        """Stop the process (idempotent) and remove its working directory and log."""
        self._terminate()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
            self._log_path = None

    def log_tail(self) -> str:
        """The end of the emulator's combined stdout/stderr (empty if there is none)."""
        if self._log_path is None or not self._log_path.exists():
            return ""
        data = self._log_path.read_bytes()[-_LOG_TAIL_CHARS:]
        return data.decode("utf-8", errors="replace")

    def __enter__(self) -> BigQueryEmulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, executable: Path) -> None:
        assert self._workdir is not None
        self._log_path = self._workdir / f"bqemulator-{self.rest_port}.log"
        # A file, not a pipe: nobody reads a pipe while tests run, and a full pipe blocks the server.
        self._log_file = self._log_path.open("wb")
        # BQEMU_* variables from the caller's shell would override defaults; the emulator under test
        # is configured by the arguments below alone. HOME points at the extensions the setup script
        # pre-installed, so DuckDB never tries to download them.
        env = {key: value for key, value in os.environ.items() if not key.startswith("BQEMU_")}
        env["HOME"] = str(self.venv / DUCKDB_HOME_NAME)
        env["BQEMU_UPLOAD_STAGING_DIR"] = str(self._workdir / "uploads")
        command = [
            str(executable),
            "start",
            "--rest-host",
            _LOOPBACK,
            "--rest-port",
            str(self.rest_port),
            "--grpc-host",
            _LOOPBACK,
            "--grpc-port",
            str(self.grpc_port),
            "--project",
            self.project,
            "--ephemeral",
            "--log-level",
            self.log_level,
            "--log-format",
            "console",
        ]
        self._process = subprocess.Popen(
            command,
            cwd=self._workdir,  # it reads ./.bqemu.toml: keep a stray one out of play
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )

    def _wait_until_ready(self) -> None:
        """Poll the dataset list until it answers 200; bounded by ``start_timeout_s``."""
        assert self._process is not None
        url = f"{self.endpoint}/bigquery/v2/projects/{self.project}/datasets"
        deadline = time.monotonic() + self.start_timeout_s
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise EmulatorStartError(
                    f"bqemulator exited with code {code} before answering; log tail:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2.0) as response:
                    if response.status == 200:
                        return
                    last_error = f"HTTP {response.status}"
            except (urllib.error.URLError, OSError) as error:
                last_error = str(error)
            time.sleep(0.1)
        raise EmulatorStartError(
            f"bqemulator did not answer {url} within {self.start_timeout_s:.0f} s "
            f"(last error: {last_error}); log tail:\n{self.log_tail()}"
        )

    def _terminate(self) -> None:
        """SIGTERM, then SIGKILL if it is still alive after a short grace (it is, mid-query)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=_KILL_WAIT_S)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
