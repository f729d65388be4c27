"""The Makefile documents itself, wires in the helper scripts, and lints every Python file."""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from .rendering import REPO_ROOT

MAKEFILE = (REPO_ROOT / "Makefile").read_text()
TARGET = re.compile(r"^(?P<target>[a-z][a-z0-9-]*):(?![=:])(?P<rest>.*)$", re.MULTILINE)
# Directories that hold no project source: tool state, caches, build output.
NOT_SOURCE = {"__pycache__", "build", "dist", "node_modules"}


def make(*args: str) -> str:
    # A clean environment for make: no flags or level inherited from a make running the tests.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}
    result = subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def targets() -> dict[str, str]:
    """Each target the Makefile defines, with its `## description` (empty when it has none)."""
    found: dict[str, str] = {}
    for match in TARGET.finditer(MAKEFILE):
        _, _, description = match["rest"].partition("## ")
        found[match["target"]] = description.strip()
    return found


def test_every_target_has_a_description() -> None:
    assert len(targets()) >= 10
    assert [target for target, description in targets().items() if not description] == []


def test_make_help_lists_every_target_with_its_description() -> None:
    listed = {}
    for line in make("help").splitlines()[1:]:
        target, description = line.strip().split(maxsplit=1)
        listed[target] = description
    assert listed == targets()


def test_help_is_the_default_goal() -> None:
    assert make() == make("help")


def test_every_target_is_phony() -> None:
    (phony,) = re.findall(r"^\.PHONY:((?:.*\\\n)*.*)$", MAKEFILE, flags=re.MULTILINE)
    assert set(phony.replace("\\\n", " ").split()) == set(targets())


def test_make_crds_and_chart_readme_run_their_scripts() -> None:
    assert make("--dry-run", "crds").splitlines() == ["scripts/sync-crds.sh"]
    assert "scripts/chart_readme.py --write" in make("--dry-run", "chart-readme")


def test_make_test_runs_every_suite_but_e2e_exactly_once() -> None:
    test_prerequisites = re.search(r"^test:(.*?)##", MAKEFILE, flags=re.MULTILINE)
    assert test_prerequisites
    assert set(test_prerequisites[1].split()) == {
        "$(STAMP)", "lint", "unit", "chart-lint", "image-check",
    }  # fmt: skip
    suites = {
        p.name for p in (REPO_ROOT / "tests").iterdir() if p.is_dir() and any(p.glob("test_*.py"))
    }
    ignored_by_unit = set(re.findall(r"--ignore=tests/([a-z0-9_]+)", MAKEFILE))
    assert ignored_by_unit == {"e2e", "chart", "image"}
    assert "$(PY) -m pytest tests/chart\n" in MAKEFILE
    assert "$(PY) -m pytest tests/image\n" in MAKEFILE
    assert ignored_by_unit <= suites


def python_files() -> set[Path]:
    files: set[Path] = set()
    for root, directories, names in os.walk(REPO_ROOT):
        directories[:] = [d for d in directories if not d.startswith(".") and d not in NOT_SOURCE]
        files |= {Path(root, name) for name in names if name.endswith(".py")}
    return files


def test_mypy_checks_every_python_file() -> None:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    roots = [REPO_ROOT / entry for entry in config["files"]]
    files = python_files()
    assert REPO_ROOT / "scripts" / "chart_readme.py" in files
    assert sorted(str(f) for f in files if not any(f.is_relative_to(r) for r in roots)) == []


def test_ruff_checks_every_python_file() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is part of the development install (make install)"
    shown = subprocess.run(
        [ruff, "check", "--show-files", "."],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    checked = {Path(line.strip()) for line in shown.splitlines() if line.strip()}
    assert sorted(str(f) for f in python_files() - checked) == []
