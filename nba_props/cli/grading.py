"""Grade a night and write its morning report, on the local warehouse or through a coordinator."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from nba_props.cli.compose import load_settings, open_grader
from nba_props.cli.output import console, key_value_table
from nba_props.cli.remote import call, remote_url, request

DateOption = Annotated[
    str | None, typer.Option("--date", help="Game date (default: yesterday in the league's time zone).")
]


def _url_option(what: str) -> Any:
    return typer.Option(help=f"{what} ($NBA_PROPS_COORDINATOR_URL when set).")


def _game_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError as exc:
        raise typer.BadParameter(f"not a date (YYYY-MM-DD): {value}", param_hint="--date") from exc


def grade(
    game_date: DateOption = None,
    url: Annotated[str | None, _url_option("Grade through a coordinator's POST /grade instead")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole result as JSON.")] = False,
) -> None:
    """Grade a night against the box scores; store and print its summary (re-grading replaces it)."""
    day = _game_date(game_date)
    url = remote_url(url)
    body: dict[str, Any]
    if url:
        code, body = call(
            "POST", f"{url}/grade", json={"game_date": day.isoformat()} if day else {}, timeout=900
        )
        if code >= 400:
            typer.echo(json.dumps(body, indent=2))
            raise typer.Exit(1)
    else:
        with open_grader(load_settings()) as grader:
            body = grader.grade(day).as_json()
    if as_json:
        typer.echo(json.dumps(body, indent=2))
        return
    summary = body["summary"]
    rows = {
        "predictions": summary["predictions"],
        "graded": summary["graded"],
        "voided (DNP / results missing)": f"{summary['dnp']} / {summary['results_missing']}",
        "coverage": summary["coverage"],
        "MAE": summary["mae"],
        "bias (predicted - actual)": summary["bias"],
        "line MAE (market)": summary["line_mae"],
        "picks decided": summary["picks"]["decided"],
        "hit rate": summary["picks"]["hit_rate"],
        "ROI": summary["roi"]["roi"],
        f"hit rate {body['hit_rate_window']['start']}..": body["hit_rate_window"]["hit_rate"],
    }
    title = f"Graded {body['game_date']} (run {body['grading_run_id']})"
    console.print(key_value_table(title, rows, key="measure"))
    for alert in body["alerts"]:
        console.print(f"[yellow]alert[/yellow] {alert['kind']}: {alert['summary']} (sent: {alert['sent']})")


def report(
    html: Annotated[Path, typer.Option("--html", help="Where to write the page.", dir_okay=False)],
    game_date: DateOption = None,
    url: Annotated[str | None, _url_option("Fetch the page from a coordinator's GET /report")] = None,
) -> None:
    """Write the morning report of a night: one self-contained HTML page with charts."""
    day = _game_date(game_date)
    url = remote_url(url)
    if url:
        response = request(
            "GET", f"{url}/report", params={"date": day.isoformat()} if day else {}, timeout=300
        )
        if response.status_code >= 400:
            typer.echo(response.text)
            raise typer.Exit(1)
        page = response.text
    else:
        from coordinator.report import render_report

        with open_grader(load_settings(), alerting=False) as grader:
            page = render_report(grader.report_data(day))
    html.parent.mkdir(parents=True, exist_ok=True)
    html.write_text(page, encoding="utf-8")
    console.print(f"Report written to {html}")


def register(app: typer.Typer) -> None:
    app.command()(grade)
    app.command()(report)
