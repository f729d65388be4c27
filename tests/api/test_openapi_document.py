"""The published OpenAPI document (``api/openapi.json``) is the API's current contract.

The operator's client is checked against that file (tests/operator/test_api_contract.py), so a
change to the API's schemas must show up in it: regenerate with ``make openapi``.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from changetrail_api.cli import build_app

DOCUMENT_PATH = Path(__file__).resolve().parents[2] / "api" / "openapi.json"


def test_the_committed_openapi_document_is_what_the_api_serves() -> None:
    result = CliRunner().invoke(build_app(other_components=False), ["openapi"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads(DOCUMENT_PATH.read_text()), (
        "api/openapi.json is out of date: run `make openapi` and commit the result"
    )
