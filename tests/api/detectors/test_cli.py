"""``changetrail webhooks inspect``: a dry run that prints what would be recorded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from changetrail_api.detectors.cli import app
from tests.api.detectors.factories import FIXTURES, GITHUB_TEST_SECRET

runner = CliRunner()


def inspect(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["inspect", *args])
    return result.exit_code, result.stdout, result.stderr


def test_text_output_shows_source_event_change_and_key_fields() -> None:
    code, out, _ = inspect(str(FIXTURES / "github/deployment_status-success.json"))

    assert code == 0
    assert out.splitlines()[:3] == ["source: github", "event:  deployment_status", "changes: 1"]
    assert "[deployment] Deployed acme/payments-api main@e4d1b8a to production: succeeded" in out
    assert "     environment: production" in out
    assert "skipped: 0" in out


def test_json_output_is_the_detection_and_nothing_else() -> None:
    code, out, _ = inspect(str(FIXTURES / "aws/cloudtrail-log-file.json"), "--json")

    result = json.loads(out)
    assert code == 0
    assert result["source"] == "aws_cloudtrail"
    assert len(result["changes"]) == 9
    assert result["changes"][0]["occurred_at"].endswith("Z")
    assert {"reason": "read-only call ec2:DescribeInstances"} in result["skipped"]


def test_headers_saved_beside_the_file_are_used(tmp_path: Path) -> None:
    body = tmp_path / "delivery.json"
    shutil.copy(FIXTURES / "github/push.json", body)
    (tmp_path / "delivery.headers.json").write_text(json.dumps({"X-GitHub-Event": "ping"}))

    _, out, _ = inspect(str(body))

    assert "event:  ping" in out


def test_header_options_override_saved_headers() -> None:
    code, out, _ = inspect(
        str(FIXTURES / "github/push.json"), "--header", "X-GitHub-Event: release", "--json"
    )

    assert code == 0
    assert json.loads(out)["event"] == "release"


def test_a_malformed_header_option_is_a_usage_error() -> None:
    code, _, err = inspect(str(FIXTURES / "github/push.json"), "--header", "no-colon")

    assert code == 2
    assert "Name: value" in err


def test_a_secret_can_be_checked_before_going_live() -> None:
    good, _, _ = inspect(str(FIXTURES / "github/push.json"), "--secret", GITHUB_TEST_SECRET)
    bad, out, err = inspect(str(FIXTURES / "github/push.json"), "--secret", "wrong")

    assert good == 0
    assert bad == 3
    assert out == ""
    assert "401" in err


def test_a_body_that_is_not_json_is_reported_on_stderr(tmp_path: Path) -> None:
    body = tmp_path / "form.txt"
    body.write_text("<xml>deploy</xml>")

    code, out, err = inspect(str(body))

    assert code == 2
    assert out == ""
    assert "not valid JSON" in err


def test_a_skipped_payload_prints_the_reason() -> None:
    _, out, _ = inspect(str(FIXTURES / "aws/sns-subscription-confirmation.json"))

    assert "changes: 0" in out
    assert "  - SNS subscription confirmation for arn:aws:sns:eu-west-1:" in out
