"""``changetrail webhooks inspect``: a dry run of the webhook receiver for one saved payload.

It prints what the receiver would detect and record, and stores nothing. Stdout carries only
the result (text, or JSON with ``--json``); problems go to stderr with a non-zero exit code.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from changetrail_api.detectors.model import Detection, PayloadError, SignatureMismatch
from changetrail_api.detectors.registry import analyse

app = typer.Typer(help="Set up and troubleshoot webhook integrations.", no_args_is_help=True)

_KEY_FIELDS = (
    "source",
    "service_name",
    "environment",
    "commit_sha",
    "branch",
    "pr_number",
    "pr_url",
    "pipeline_url",
    "changed_by",
    "risk_level",
    "external_id",
    "occurred_at",
)


@app.callback()
def webhooks() -> None:
    """Set up and troubleshoot webhook integrations."""


@app.command()
def inspect(
    file: Annotated[
        Path, typer.Argument(help="A saved request body (JSON).", exists=True, dir_okay=False)
    ],
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header",
            "-H",
            metavar="'NAME: VALUE'",
            help="A request header, as curl takes it; repeatable.",
        ),
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            metavar="SECRET",
            help="Check the signature or token against this secret, as the endpoint would.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Show the source detected in FILE and the changes it would record, without storing them.

    Headers saved beside the file (push.headers.json for push.json, as a JSON object) are
    read first; --header values override them.
    """
    headers = _headers_beside(file)
    for raw in header or []:
        name, separator, value = raw.partition(":")
        if not separator or not name.strip():
            raise typer.BadParameter(f"{raw!r} is not 'Name: value'", param_hint="--header")
        headers[name.strip().lower()] = value.strip()
    try:
        detection = analyse(headers, file.read_bytes(), secret)
    except PayloadError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    except SignatureMismatch as error:
        typer.echo(f"error: {error}; the receiver would answer 401", err=True)
        raise typer.Exit(code=3) from None
    typer.echo(json.dumps(to_json(detection), indent=2) if as_json else to_text(detection))


def _headers_beside(file: Path) -> dict[str, str]:
    candidates = [file.with_name(file.name + ".headers.json")]
    if file.suffix == ".json":
        candidates.insert(0, file.with_name(file.stem + ".headers.json"))
    for candidate in candidates:
        if candidate.is_file():
            try:
                loaded = json.loads(candidate.read_text())
            except (OSError, ValueError) as error:
                raise typer.BadParameter(f"{candidate.name}: {error}") from None
            if not isinstance(loaded, dict):
                raise typer.BadParameter(f"{candidate.name} must hold a JSON object of headers")
            return {str(name).lower(): str(value) for name, value in loaded.items()}
    return {}


def to_json(detection: Detection) -> dict[str, Any]:
    """The detection as the receiver would report it, with drafts instead of stored changes."""
    return {
        "source": detection.source,
        "event": detection.event,
        "changes": [
            {key: _plain(value) for key, value in asdict(change).items()}
            for change in detection.changes
        ],
        "skipped": [{"reason": skip.reason} for skip in detection.skipped],
    }


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple):
        return list(value)
    return value


def to_text(detection: Detection) -> str:
    lines = [f"source: {detection.source}", f"event:  {detection.event}"]
    lines.append(f"changes: {len(detection.changes)}")
    for number, change in enumerate(detection.changes, start=1):
        lines.append(f"  {number}. [{change.change_type}] {change.summary}")
        for key in _KEY_FIELDS:
            value = _plain(getattr(change, key))
            if value is not None:
                lines.append(f"     {key}: {value}")
        if change.tags:
            lines.append(f"     tags: {', '.join(change.tags)}")
    lines.append(f"skipped: {len(detection.skipped)}")
    lines.extend(f"  - {skip.reason}" for skip in detection.skipped)
    return "\n".join(lines)
