"""charts/changetrail/README.md is what scripts/chart_readme.py makes of values.yaml's comments."""

import json
import subprocess
import sys

from scripts.chart_readme import README, documented_values, render, values_sections

from .rendering import CHART_DIR, REPO_ROOT
from .test_docs import leaf_values

SCRIPT = REPO_ROOT / "scripts" / "chart_readme.py"


def test_the_committed_readme_is_the_generated_one() -> None:
    assert README == CHART_DIR / "README.md"
    assert README.read_text() == render(), "run make chart-readme"


def test_the_script_prints_and_checks_the_same_readme() -> None:
    printed = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, check=True
    ).stdout
    assert printed == README.read_text()
    check = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True)
    assert check.returncode == 0, check.stderr


def test_every_chart_value_has_a_row() -> None:
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    values = leaf_values(schema) - {"global"}
    assert values
    readme = README.read_text()
    assert sorted(v for v in values if f"| `{v}` |" not in readme) == []


def test_comments_become_descriptions_and_sections() -> None:
    text = (
        "# A header that documents nothing.\n"
        "\n"
        "# -- Top-level leaf,\n"
        "# on two lines.\n"
        "plain: 1\n"
        "# Not a value comment.\n"
        "undocumented: 2\n"
        "# -- The section.\n"
        "section:\n"
        "  # -- A nested leaf.\n"
        "  leaf: [a, b]\n"
        "  # -- A free-form map: one row.\n"
        "  probe:\n"
        "    # Only an ordinary comment inside.\n"
        "    path: /x|y\n"
        "  # -- A list of maps.\n"
        "  hosts:\n"
        "    - host: h\n"
        "      paths:\n"
        "        - path: /\n"
        "  # -- After the list.\n"
        "  after: true\n"
    )
    assert [(d.name, d.description) for d in documented_values(text)] == [
        ("plain", "Top-level leaf, on two lines."),
        ("section", "The section."),
        ("section.leaf", "A nested leaf."),
        ("section.probe", "A free-form map: one row."),
        ("section.hosts", "A list of maps."),
        ("section.after", "After the list."),
    ]
    assert values_sections(text).splitlines() == [
        "### General",
        "",
        "| Key | Default | Description |",
        "|---|---|---|",
        "| `plain` | `1` | Top-level leaf, on two lines. |",
        "",
        "### `section`",
        "",
        "The section.",
        "",
        "| Key | Default | Description |",
        "|---|---|---|",
        '| `section.leaf` | `["a", "b"]` | A nested leaf. |',
        '| `section.probe` | `{"path": "/x\\|y"}` | A free-form map: one row. |',
        '| `section.hosts` | `[{"host": "h", "paths": [{"path": "/"}]}]` | A list of maps. |',
        "| `section.after` | `true` | After the list. |",
    ]
