"""values.yaml is fully documented and values.schema.json rejects what the chart cannot use."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from .rendering import CHART_DIR, RenderError

VALUES_FILE = CHART_DIR / "values.yaml"
SCHEMA_FILE = CHART_DIR / "values.schema.json"
KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z][A-Za-z0-9]*):")


def schema_paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths of every key the schema names (free-form maps are not descended)."""
    paths: set[str] = set()
    for key, child in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        paths.add(path)
        paths |= schema_paths(child, f"{path}.")
    return paths


def documented_keys(values_text: str, known_paths: set[str]) -> dict[str, bool]:
    """For each key of values.yaml the schema knows, whether a comment sits right above it."""
    documented: dict[str, bool] = {}
    stack: list[tuple[int, str]] = []
    previous = ""
    for line in values_text.splitlines():
        match = KEY_LINE.match(line)
        if match:
            indent = len(match["indent"])
            while stack and stack[-1][0] >= indent:
                stack.pop()
            path = ".".join([*(key for _, key in stack), match["key"]])
            stack.append((indent, match["key"]))
            if path in known_paths:
                documented[path] = previous.lstrip().startswith("#")
        if line.strip():
            previous = line
    return documented


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return loaded


def flatten(values: dict[str, Any], opaque: set[str], prefix: str = "") -> set[str]:
    """Dotted paths of every key in values, not descending into the opaque paths."""
    paths: set[str] = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        paths.add(path)
        if isinstance(value, dict) and path not in opaque:
            paths |= flatten(value, opaque, f"{path}.")
    return paths


def test_every_value_has_a_comment(schema: dict[str, Any]) -> None:
    documented = documented_keys(VALUES_FILE.read_text(), schema_paths(schema))
    assert documented, "no keys found in values.yaml"
    assert [path for path, has_comment in documented.items() if not has_comment] == []


def test_schema_and_values_name_the_same_keys(schema: dict[str, Any]) -> None:
    values = yaml.safe_load(VALUES_FILE.read_text())
    in_schema = schema_paths(schema) - {"global"}
    in_values = flatten(values, free_form(schema))
    assert in_values - in_schema == set(), "values without a schema entry"
    assert in_schema - in_values == set(), "schema entries without a default in values.yaml"


def free_form(schema: dict[str, Any], prefix: str = "") -> set[str]:
    """Paths of objects the schema leaves open (probes, resources, annotations, ...)."""
    paths: set[str] = set()
    for key, child in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        if child.get("type") == "object" and "properties" not in child:
            paths.add(path)
        paths |= free_form(child, f"{path}.")
    return paths


def test_the_comment_check_notices_an_undocumented_key() -> None:
    text = "# -- documented\nimage:\n  # -- documented\n  tag: x\n  pullPolicy: Always\n"
    paths = {"image", "image.tag", "image.pullPolicy"}
    assert documented_keys(text, paths) == {
        "image": True,
        "image.tag": True,
        "image.pullPolicy": False,
    }


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"api.replicaCount": "two"}, "/api/replicaCount"),
        ({"api.port": "70000"}, "/api/port"),
        ({"database.type": "mysql"}, "/database/type"),
        ({"api.image.pullPolicy": "Sometimes"}, "/api/image/pullPolicy"),
        ({"operator.image.digest": "latest"}, "/operator/image/digest"),
        ({"operator.image.repository": ""}, "/operator/image/repository"),
        # One image for both components is gone: api.image and operator.image replace it.
        ({"image.repository": "changetrail"}, "image"),
        ({"operator.watchNamespaces": "payments"}, "/operator/watchNamespaces"),
        ({"operator.createServices": "yes"}, "/operator/createServices"),
        ({"persistence.size": "lots"}, "/persistence/size"),
        ({"database.postgresql.url": "mysql://db"}, "/database/postgresql/url"),
        ({"api.ingress.hosts[0].paths[0].pathType": "Anything"}, "pathType"),
        ({"unknownKey": "1"}, "unknownKey"),
        ({"api.replicaCont": "1"}, "replicaCont"),
    ],
)
def test_schema_rejects_wrong_types_and_unknown_keys(
    render_error: RenderError, overrides: dict[str, str], complaint: str
) -> None:
    error = render_error(overrides)
    assert "schema" in error
    assert complaint in error


def test_schema_file_is_a_draft_7_document(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["additionalProperties"] is False


def test_ci_values_files_are_plain_yaml_maps() -> None:
    for values_file in sorted((CHART_DIR / "ci").glob("*-values.yaml")):
        assert isinstance(yaml.safe_load(Path(values_file).read_text()), dict), values_file
