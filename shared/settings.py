"""Typed settings for both services, read once from the environment (prefix ``NBA_PROPS_``)."""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class WarehouseBackend(StrEnum):
    DUCKDB = "duckdb"
    BIGQUERY = "bigquery"


class TransportKind(StrEnum):
    LOOPBACK = "loopback"
    PUBSUB = "pubsub"


class LogFormat(StrEnum):
    AUTO = "auto"
    CONSOLE = "console"
    JSON = "json"


class Settings(BaseSettings):
    """Every knob of nba-props. The README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(env_prefix="NBA_PROPS_", extra="ignore", frozen=True)

    # Where the data lives.
    warehouse_backend: WarehouseBackend = WarehouseBackend.DUCKDB
    duckdb_path: Path = Path("data/nba_props.duckdb")
    bigquery_project: str | None = None
    bigquery_dataset: str = "nba_props"
    bigquery_location: str = "US"

    # How messages travel.
    transport: TransportKind = TransportKind.LOOPBACK
    pubsub_project: str | None = None
    pubsub_topic: str = "nba-props-predictions"
    pubsub_max_messages: int = Field(default=100, ge=1, le=1000)
    pubsub_max_latency_s: float = Field(default=0.05, gt=0, le=10)
    publish_timeout_s: float = Field(default=60.0, gt=0, le=600)
    worker_push_url: str = "http://127.0.0.1:8081/pubsub/push"
    push_concurrency: int = Field(default=8, ge=1, le=256)
    max_delivery_attempts: int = Field(default=5, ge=1, le=100)
    retry_min_backoff_s: float = Field(default=0.2, ge=0, le=600)
    retry_max_backoff_s: float = Field(default=10.0, ge=0, le=600)

    # The nightly load.
    query_timeout_s: float = Field(default=120.0, gt=0, le=6 * 3600)
    min_history_games: int = Field(default=3, ge=0, le=82)
    bookmaker_priority: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["draftkings", "fanduel", "betmgm", "caesars"]
    )
    league_timezone: str = "America/New_York"
    stall_after_s: float = Field(default=900.0, gt=0)

    # The model and what it recommends.
    model_dir: Path = Path("models/catboost_v8")
    edge_threshold: float = Field(default=1.5, ge=0, le=20)
    prediction_floor: float = Field(default=0.0, ge=0)
    prediction_ceiling: float = Field(default=60.0, gt=0, le=100)

    # Serving.
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    log_format: LogFormat = LogFormat.AUTO
    log_level: str = "INFO"
    gcp_project_for_trace: str | None = None

    @field_validator("bookmaker_priority", mode="before")
    @classmethod
    def _split_bookmakers(cls, value: object) -> object:
        # Environment variables carry lists as "draftkings,fanduel"; keep the order: it is the priority.
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if not self.bookmaker_priority:
            raise ValueError("bookmaker_priority must name at least one bookmaker")
        if self.retry_max_backoff_s < self.retry_min_backoff_s:
            raise ValueError("retry_max_backoff_s must be >= retry_min_backoff_s")
        if self.prediction_ceiling <= self.prediction_floor:
            raise ValueError("prediction_ceiling must be above prediction_floor")
        if self.warehouse_backend is WarehouseBackend.BIGQUERY and not self.bigquery_project:
            raise ValueError("warehouse_backend=bigquery needs NBA_PROPS_BIGQUERY_PROJECT")
        if self.transport is TransportKind.PUBSUB and not (self.pubsub_project or self.bigquery_project):
            raise ValueError("transport=pubsub needs NBA_PROPS_PUBSUB_PROJECT")
        return self

    @property
    def binds_loopback_only(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def resolved_pubsub_project(self) -> str | None:
        return self.pubsub_project or self.bigquery_project
