"""The command line: results on stdout only, so scripts can capture them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from changetrail_api.app import create_app
from changetrail_api.cli import build_app
from changetrail_api.settings import ApiSettings

app = build_app(other_components=False)


def test_the_api_alone_has_no_operator_command() -> None:
    help_text = CliRunner().invoke(app, ["--help"]).output

    assert "migrate" in help_text
    assert "operator" not in help_text


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CHANGETRAIL_DATABASE_URL", url)
    return url


def test_keys_create_prints_only_a_working_key(database: str) -> None:
    result = CliRunner().invoke(
        app, ["keys", "create", "--name", "ci", "--scopes", "changes:write,changes:read"]
    )
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key.startswith("ak_live_")
    assert "\n" not in key

    async def post() -> int:
        api = create_app(ApiSettings(database_url=database))
        async with (
            api.router.lifespan_context(api),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=api), base_url="http://t"
            ) as client,
        ):
            response = await client.post(
                "/api/v1/changes", json={"summary": "x"}, headers={"Authorization": f"Bearer {key}"}
            )
            return response.status_code

    assert asyncio.run(post()) == 201


def test_keys_create_rejects_unknown_scopes(database: str) -> None:
    result = CliRunner().invoke(app, ["keys", "create", "--name", "x", "--scopes", "root"])
    assert result.exit_code != 0
    assert result.stdout == ""


def test_migrate_is_idempotent(database: str) -> None:
    for _ in range(2):
        result = CliRunner().invoke(app, ["migrate"])
        assert result.exit_code == 0
        assert result.stdout == ""


class TestApiWorkers:
    @pytest.fixture
    def served(self, database: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
        import uvicorn

        calls: dict[str, object] = {}
        monkeypatch.setattr(uvicorn, "run", lambda *_args, **kwargs: calls.update(kwargs))
        return calls

    def test_one_worker_by_default(self, served: dict[str, object]) -> None:
        result = CliRunner().invoke(app, ["api", "--no-migrate"])
        assert result.exit_code == 0, result.output
        assert served["workers"] == 1

    def test_the_count_comes_from_the_option_or_the_environment(
        self, served: dict[str, object], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        seen = []
        CliRunner().invoke(app, ["api", "--no-migrate", "--workers", "3"])
        seen.append(served["workers"])
        monkeypatch.setenv("CHANGETRAIL_API_WORKERS", "2")
        CliRunner().invoke(app, ["api", "--no-migrate"])
        seen.append(served["workers"])
        assert seen == [3, 2]

    def test_requests_are_parsed_in_c_on_uvloop_with_problem_documents_for_bad_ones(
        self, served: dict[str, object]
    ) -> None:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        from changetrail_api.http_protocol import ProblemHttpProtocol

        result = CliRunner().invoke(app, ["api", "--no-migrate"])
        assert result.exit_code == 0, result.output
        assert served["http"] is ProblemHttpProtocol
        assert issubclass(ProblemHttpProtocol, HttpToolsProtocol)
        assert served["loop"] == "uvloop"

    def test_no_workers_is_refused(self, served: dict[str, object]) -> None:
        result = CliRunner().invoke(app, ["api", "--no-migrate", "--workers", "0"])
        assert result.exit_code != 0
        assert "workers" not in served
