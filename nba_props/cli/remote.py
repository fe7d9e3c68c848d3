"""The CLI as a client of a running coordinator: where it is, how to authenticate, one call."""

from __future__ import annotations

import os
from typing import Any

import httpx
import typer

from nba_props.cli.output import console

DEFAULT_COORDINATOR_URL = "http://127.0.0.1:8080"
URL_HELP = "Coordinator URL ($NBA_PROPS_COORDINATOR_URL)."


def coordinator_url(url: str | None) -> str:
    """--url, else $NBA_PROPS_COORDINATOR_URL, else the local default."""
    return remote_url(url) or DEFAULT_COORDINATOR_URL


def remote_url(url: str | None) -> str | None:
    """--url, else $NBA_PROPS_COORDINATOR_URL; None (work on the local warehouse) without either."""
    return url or os.environ.get("NBA_PROPS_COORDINATOR_URL") or None


def auth_headers() -> dict[str, str]:
    """An ID token for a coordinator that requires one (cloud mode), from $NBA_PROPS_ID_TOKEN, e.g.
    `export NBA_PROPS_ID_TOKEN=$(gcloud auth print-identity-token --impersonate-service-account=...
    --audiences=... --include-email)`."""
    token = os.environ.get("NBA_PROPS_ID_TOKEN")
    return {"Authorization": f"Bearer {token}"} if token else {}


def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One HTTP call to the coordinator; a one-line error and exit code 1, not a traceback, when it
    cannot be reached."""
    try:
        return httpx.request(method, url, headers=auth_headers(), **kwargs)
    except httpx.HTTPError as exc:
        console.print(f"[red]Cannot reach the coordinator at {url}:[/red] {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from exc


def call(method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    """`request`, answered as (status, JSON body); a body that is not JSON comes back as its text."""
    response = request(method, url, **kwargs)
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, {"status_code": response.status_code, "body": response.text[:2000]}
