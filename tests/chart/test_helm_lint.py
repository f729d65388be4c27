from pathlib import Path

import pytest

from .rendering import CHART_DIR, CI_VALUES_FILES, run_helm


def test_every_scenario_of_the_issue_has_a_ci_values_file() -> None:
    names = {path.name for path in CI_VALUES_FILES}
    assert {
        "sqlite-values.yaml",
        "postgresql-values.yaml",
        "ingress-values.yaml",
        "existing-secret-values.yaml",
    } <= names


@pytest.mark.parametrize(
    "values_file", [None, *CI_VALUES_FILES], ids=lambda p: getattr(p, "name", "defaults")
)
def test_chart_passes_strict_lint(helm: Path, values_file: Path | None) -> None:
    args = ["lint", "--strict", str(CHART_DIR)]
    if values_file is not None:
        args += ["--values", str(values_file)]
    result = run_helm(helm, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout
