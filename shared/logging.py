"""structlog set-up: Cloud Logging JSON in the cloud, a readable console locally."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from shared.settings import LogFormat, Settings

_LEVEL_TO_SEVERITY = {
    "debug": "DEBUG",
    "info": "INFO",
    "warning": "WARNING",
    "warn": "WARNING",
    "error": "ERROR",
    "exception": "ERROR",
    "critical": "CRITICAL",
}


def _cloud_logging_fields(_: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
    # Cloud Logging reads `severity` and `message` from a JSON line on stdout.
    level = str(event_dict.pop("level", method_name)).lower()
    event_dict["severity"] = _LEVEL_TO_SEVERITY.get(level, "DEFAULT")
    event_dict["message"] = event_dict.pop("event", "")
    return event_dict


class _LateStreamLogger:
    """Writes each line to the stream `sys.<name>` holds *now*, not the one it held at configure
    time (a replaced or closed stream — pytest's capture, a CLI run — must not break logging)."""

    def __init__(self, stream_name: str) -> None:
        self._stream_name = stream_name

    def msg(self, message: str) -> None:
        stream = getattr(sys, self._stream_name)
        stream.write(message + "\n")
        stream.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


class _LateStreamLoggerFactory:
    def __init__(self, stream_name: str) -> None:
        self._stream_name = stream_name

    def __call__(self, *args: Any) -> _LateStreamLogger:
        return _LateStreamLogger(self._stream_name)


def running_in_cloud() -> bool:
    """Cloud Run sets K_SERVICE; that is the signal to log JSON."""
    return "K_SERVICE" in os.environ


def configure_logging(settings: Settings) -> None:
    """Configure structlog and the stdlib root logger once per process."""
    use_json = settings.log_format is LogFormat.JSON or (
        settings.log_format is LogFormat.AUTO and running_in_cloud()
    )
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):
        level = logging.INFO
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any
    if use_json:
        shared_processors += [
            structlog.processors.format_exc_info,
            _cloud_logging_fields,
        ]
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[*shared_processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_LateStreamLoggerFactory("stdout" if use_json else "stderr"),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    for noisy in ("httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def trace_field(header: str | None, project: str | None) -> dict[str, str]:
    """Cloud Logging's trace field from an ``X-Cloud-Trace-Context: TRACE/SPAN;o=1`` header."""
    if not header or not project:
        return {}
    trace_id = header.split("/", 1)[0].strip()
    if not trace_id:
        return {}
    return {"logging.googleapis.com/trace": f"projects/{project}/traces/{trace_id}"}


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger
