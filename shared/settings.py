"""Typed settings for both services, read once from the environment (prefix ``NBA_PROPS_``)."""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.lines import DEFAULT_BOOKMAKER_PRIORITY


class WarehouseBackend(StrEnum):
    DUCKDB = "duckdb"
    BIGQUERY = "bigquery"


class TransportKind(StrEnum):
    LOOPBACK = "loopback"
    PUBSUB = "pubsub"


class AuthMode(StrEnum):
    DISABLED = "disabled"
    GOOGLE_OIDC = "google_oidc"


class LogFormat(StrEnum):
    AUTO = "auto"
    CONSOLE = "console"
    JSON = "json"


class Settings(BaseSettings):
    """Every knob of nba-props, from ``NBA_PROPS_<NAME>`` environment variables."""

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
    # Loopback: how long one push may go unanswered (Pub/Sub's ack deadline), and how long closing the
    # transport waits for deliveries before dead-lettering the rest as `transport_closed`.
    push_request_timeout_s: float = Field(default=60.0, gt=0, le=600)
    push_close_timeout_s: float = Field(default=30.0, ge=0, le=600)

    # The nightly load.
    query_timeout_s: float = Field(default=120.0, gt=0, le=6 * 3600)
    min_history_games: int = Field(default=3, ge=0, le=82)
    bookmaker_priority: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_BOOKMAKER_PRIORITY)
    )
    league_timezone: str = "America/New_York"
    stall_after_s: float = Field(default=900.0, gt=0)
    # A message older than this (from Pub/Sub's publishTime) is acknowledged and recorded as
    # expired instead of predicted: a prediction made hours later is worth nothing.
    max_message_age_s: float = Field(default=6 * 3600.0, gt=0)

    # The model and what it recommends.
    model_dir: Path = Path("models/catboost_v8")
    edge_threshold: float = Field(default=1.5, ge=0, le=20)
    prediction_floor: float = Field(default=0.0, ge=0)
    prediction_ceiling: float = Field(default=60.0, gt=0, le=100)

    # Grading and alerts: thresholds first, then where alerts go.
    grading_coverage_min: float = Field(default=0.90, ge=0, le=1)
    # Deep-bench players are rightly predicted below 2 points: the range's floor is off by default.
    alert_prediction_min_points: float = Field(default=0.0, ge=0)
    alert_prediction_max_points: float = Field(default=55.0, gt=0)
    # Far from the player's own last-10 average: on the real 2023-24 logs V8 puts 0.15% of
    # predictions more than 8 points away (at most 4 on a night); a feature bug moves most of them.
    alert_history_gap_points: float = Field(default=8.0, gt=0)
    alert_history_gap_max_share: float = Field(default=0.03, ge=0, le=1)
    alert_bias_max_points: float = Field(default=2.0, gt=0)
    # Break-even at -110 is 110/210 = 52.4%; fewer picks than the minimum in the window is noise.
    alert_hit_rate_min: float = Field(default=0.524, ge=0, le=1)
    alert_hit_rate_window_days: int = Field(default=7, ge=1, le=90)
    alert_hit_rate_min_picks: int = Field(default=30, ge=1)
    alert_dead_letters_max: int = Field(default=0, ge=0)
    alert_webhook_url: SecretStr | None = None
    alert_webhook_timeout_s: float = Field(default=5.0, gt=0, le=60)
    alert_webhook_attempts: int = Field(default=3, ge=1, le=10)
    alert_pubsub_topic: str | None = None
    alert_dedup_window_s: float = Field(default=86400.0, ge=0)
    alert_rate_limit_per_hour: int = Field(default=30, ge=1)
    report_window_days: int = Field(default=30, ge=1, le=365)

    # Serving.
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    log_format: LogFormat = LogFormat.AUTO
    log_level: str = "INFO"
    gcp_project_for_trace: str | None = None

    # Who may call. `disabled` is refused at startup unless the service binds loopback only;
    # `google_oidc` verifies Google-signed ID tokens.
    auth: AuthMode = AuthMode.DISABLED
    auth_audiences: Annotated[list[str], NoDecode] = Field(default_factory=list)
    auth_allowed_emails: Annotated[list[str], NoDecode] = Field(default_factory=list)
    auth_certs_url: str = "https://www.googleapis.com/oauth2/v1/certs"

    @field_validator("bookmaker_priority", "auth_audiences", "auth_allowed_emails", mode="before")
    @classmethod
    def _split_list(cls, value: object, info: ValidationInfo) -> object:
        # Environment variables carry lists as "draftkings,fanduel"; the order is kept (for
        # bookmakers it is the priority), and bookmaker names are case-insensitive.
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            return [part.lower() for part in parts] if info.field_name == "bookmaker_priority" else parts
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if not self.bookmaker_priority:
            raise ValueError("bookmaker_priority must name at least one bookmaker")
        if self.retry_max_backoff_s < self.retry_min_backoff_s:
            raise ValueError("retry_max_backoff_s must be >= retry_min_backoff_s")
        try:
            ZoneInfo(self.league_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"league_timezone {self.league_timezone!r} is not an IANA time zone") from None
        if self.prediction_ceiling <= self.prediction_floor:
            raise ValueError("prediction_ceiling must be above prediction_floor")
        # A load (three queries) and a fan-out may legitimately run this long without a write: a
        # shorter stall time would finalize a live batch.
        busiest = 3 * self.query_timeout_s + self.publish_timeout_s
        if self.stall_after_s <= busiest:
            raise ValueError(
                f"stall_after_s ({self.stall_after_s:g}) must exceed 3 x query_timeout_s + "
                f"publish_timeout_s ({busiest:g}), the longest a live batch may go without a write"
            )
        if self.alert_prediction_max_points <= self.alert_prediction_min_points:
            raise ValueError("alert_prediction_max_points must be above alert_prediction_min_points")
        if self.alert_webhook_url is not None:
            _check_webhook_url(self.alert_webhook_url.get_secret_value())
        if self.alert_pubsub_topic and not self.resolved_pubsub_project:
            raise ValueError("alert_pubsub_topic needs NBA_PROPS_PUBSUB_PROJECT")
        if self.auth is AuthMode.GOOGLE_OIDC and not (self.auth_audiences and self.auth_allowed_emails):
            raise ValueError(
                "auth=google_oidc needs NBA_PROPS_AUTH_AUDIENCES and NBA_PROPS_AUTH_ALLOWED_EMAILS"
            )
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


def _check_webhook_url(url: str) -> None:
    """An alert webhook carries operational details: https only, except to this machine (tests)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    loopback = parts.hostname in {"localhost", "127.0.0.1", "::1"}
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ValueError("alert_webhook_url must be an https:// URL")
    if not parts.hostname:
        raise ValueError("alert_webhook_url has no host")
