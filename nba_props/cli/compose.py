"""The CLI's one composition path: settings (logging configured), the warehouse and the grader, each
opened by a context manager that closes what it built when the command ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from nba_props.cli.output import console
from shared.logging import configure_logging
from shared.settings import Settings

if TYPE_CHECKING:
    from coordinator.grading import Grader
    from shared.warehouse import Warehouse


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment (options given on the command line win), logging set up."""
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:
        console.print(f"[red]Invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc
    configure_logging(settings)
    return settings


@contextmanager
def open_warehouse(settings: Settings) -> Iterator[Warehouse]:
    """The configured warehouse, closed when the command ends: a DuckDB file left open by one command
    refuses the next connection in the same process that opens it with another configuration."""
    from shared.bootstrap import make_warehouse

    warehouse = make_warehouse(settings)
    try:
        yield warehouse
    finally:
        warehouse.close()


@contextmanager
def open_grader(settings: Settings, *, alerting: bool = True) -> Iterator[Grader]:
    """A grader on the configured warehouse; with `alerting`, its alerts go to the configured sinks
    (a report only reads, so it raises none)."""
    from coordinator.alerts import AlertManager
    from coordinator.grading import Grader

    with open_warehouse(settings) as warehouse:
        alerts = AlertManager.from_settings(settings, warehouse) if alerting else AlertManager()
        try:
            yield Grader(warehouse, alerts, settings)
        finally:
            alerts.close()
