"""The CLI's one composition path: settings (logging configured), the warehouse and the grader, each
opened by a context manager that closes what it built when the command ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.markup import escape

from nba_props.cli.output import console
from shared.errors import WarehouseFault, WarehouseUnavailable
from shared.logging import configure_logging
from shared.settings import Settings, WarehouseBackend

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


def _refuse(message: str) -> NoReturn:
    console.print(f"[red]Error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(1)


def _check_duckdb_path(settings: Settings) -> None:
    """Refuse an empty path, a directory, or a missing directory (only the default's is created), so
    that a mistyped NBA_PROPS_DUCKDB_PATH creates no file anywhere."""
    path = settings.duckdb_path
    if str(path) in ("", "."):
        _refuse("NBA_PROPS_DUCKDB_PATH is empty: set it to a DuckDB file")
    if path.is_dir():
        _refuse(f"the warehouse path {path} (NBA_PROPS_DUCKDB_PATH) is a directory, not a DuckDB file")
    default = Settings.model_fields["duckdb_path"].default
    if path != default and not path.parent.is_dir():
        _refuse(f"the directory of the warehouse file {path} (NBA_PROPS_DUCKDB_PATH) does not exist")


@contextmanager
def open_warehouse(settings: Settings) -> Iterator[Warehouse]:
    """The configured warehouse, closed when the command ends: a DuckDB file left open by one command
    refuses the next connection in the same process that opens it with another configuration. A
    warehouse that cannot be opened (held by another process, unreadable) is one line and exit 1."""
    from shared.bootstrap import make_warehouse

    if settings.warehouse_backend is WarehouseBackend.DUCKDB:
        _check_duckdb_path(settings)
    try:
        warehouse = make_warehouse(settings)
    except WarehouseUnavailable as exc:
        hint = ""
        if exc.fault is WarehouseFault.LOCKED:
            hint = " — stop it (`nba-props serve embedded`?) or use --url to reach its coordinator"
        _refuse(f"{exc}{hint}")
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
