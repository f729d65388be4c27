"""The docs match the product: every value and variable documented, examples that are valid."""

import json
import re
from typing import Any

from changetrail_api.domain import ChangeType, RiskLevel
from changetrail_api.settings import ApiSettings
from changetrail_operator.settings import OperatorSettings

from .rendering import CHART_DIR, REPO_ROOT, Render, containers, pod_specs

# The Changes API request fields: the contract's, plus the documented extensions.
CHANGE_FIELDS = {
    "summary", "service_id", "change_type", "description", "source", "commit_sha",
    "commit_message", "branch", "pr_number", "pr_url", "pipeline_url", "environment",
    "risk_level", "changed_by", "external_id", "tags", "occurred_at", "ended_at", "details",
}  # fmt: skip
CONFIGURATION = (REPO_ROOT / "docs" / "configuration.md").read_text()
DOCUMENTED_NAMES = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_.]*)`", CONFIGURATION))


def leaf_values(schema: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths of values a user sets (objects with named keys are not values)."""
    paths: set[str] = set()
    for key, child in schema.get("properties", {}).items():
        if child.get("type") == "object" and "properties" in child:
            paths |= leaf_values(child, f"{prefix}{key}.")
        else:
            paths.add(f"{prefix}{key}")
    return paths


def settings_variables(settings: type[ApiSettings] | type[OperatorSettings]) -> set[str]:
    prefix = str(settings.model_config.get("env_prefix", ""))
    return {f"{prefix}{name}".upper() for name in settings.model_fields}


def test_every_chart_value_is_documented() -> None:
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    values = leaf_values(schema) - {"global"}
    assert values
    assert sorted(values - DOCUMENTED_NAMES) == []


def test_every_variable_the_chart_sets_is_documented(render: Render) -> None:
    specs = pod_specs(render(CHART_DIR / "ci" / "sqlite-values.yaml"))
    variables = {
        entry["name"]
        for spec in specs.values()
        for container in containers(spec)
        for entry in container.get("env", [])
    }
    assert "CHANGETRAIL_DATABASE_URL" in variables
    assert sorted(variables - DOCUMENTED_NAMES) == []


def test_every_setting_of_both_processes_is_documented() -> None:
    variables = settings_variables(ApiSettings) | settings_variables(OperatorSettings)
    assert "CHANGETRAIL_API_URL" in variables
    assert sorted(variables - DOCUMENTED_NAMES) == [], "add them to docs/configuration.md"


def request_bodies(markdown: str) -> list[str]:
    """The JSON bodies of the curl examples (`-d '{...}'`)."""
    return re.findall(r"-d '(\{.*?\})'", markdown, flags=re.DOTALL)


def test_change_examples_in_the_docs_use_only_contract_fields() -> None:
    bodies = [
        json.loads(body)
        for doc in ("ci.md", "install.md")
        for body in request_bodies((REPO_ROOT / "docs" / doc).read_text())
    ]
    changes = [body for body in bodies if "summary" in body]
    assert len(changes) >= 2
    for change in changes:
        assert change.keys() <= CHANGE_FIELDS, change
        assert change.get("change_type", "deployment") in set(ChangeType)
        assert change.get("risk_level", "low") in set(RiskLevel)
