"""The Dockerfile's build stage, replayed once for both images.

No Docker engine runs in CI, so this does what `docker build` does in the build stage: copy
the same files and run the same RUN lines, with the images' paths mapped into a temporary
directory. Each target's virtual environment is then checked as its image would carry it:
the API's serves the API commands and migrates a database, the operator's has only the
operator command, and neither holds the other's dependencies. This proves the wheels carry
everything the images need (code, migrations, entry points) and that each component installs
exactly the versions uv.lock pins, without the development tools.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.chart.rendering import REPO_ROOT

from .dockerfile import Instruction, Stage, load

DOCKERFILE = load(REPO_ROOT / "Dockerfile")
BUILD_STAGE = DOCKERFILE.stage("build")
# The API's own stack; the operator image must carry none of it.
API_STACK = {"fastapi", "starlette", "sqlalchemy", "psycopg", "psycopg-binary", "alembic"}
API_STACK |= {"uvicorn", "httptools", "uvloop", "aiosqlite"}
OPERATOR_STACK = {"kopf", "aiohttp"}
DEVELOPMENT_TOOLS = {"pytest", "mypy", "ruff", "hypothesis", "schemathesis", "kmock", "uv"}


@dataclass(frozen=True)
class Component:
    target: str
    distribution: str
    commands: frozenset[str]
    needs: frozenset[str]
    must_not_have: frozenset[str]


COMPONENTS = {
    "api": Component(
        target="api",
        distribution="changetrail-api",
        commands=frozenset({"api", "migrate", "openapi", "keys", "webhooks"}),
        needs=frozenset(API_STACK),
        must_not_have=frozenset({*OPERATOR_STACK, "changetrail-operator", *DEVELOPMENT_TOOLS}),
    ),
    "operator": Component(
        target="operator",
        distribution="changetrail-operator",
        commands=frozenset({"operator"}),
        needs=frozenset({*OPERATOR_STACK, "httpx"}),
        must_not_have=frozenset({*API_STACK, "changetrail-api", *DEVELOPMENT_TOOLS}),
    ),
}


def uv_binary() -> str:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv, "uv is part of the development install (make install)"
    return uv


def venv_path(target: str) -> str:
    """Where the target's image keeps its venv: the source of its COPY --from=build."""
    (copy,) = DOCKERFILE.stage(target).all("COPY")
    return copy.arguments.removeprefix("--from=build ").split()[0]


def replay_copies(stage: Stage, workdir: Path) -> None:
    for copy in stage.all("COPY"):
        *sources, destination = copy.arguments.split()
        for source in sources:
            target = (
                workdir / destination / (Path(source).name if destination.endswith("/") else "")
            )
            if (REPO_ROOT / source).is_dir():
                shutil.copytree(
                    REPO_ROOT / source,
                    target,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.db", ".venv"),
                )
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO_ROOT / source, target)


def image_paths_to(root: Path) -> dict[str, str]:
    """Where each absolute path of the build stage lands in this test."""
    paths = {venv_path(target): str(root / venv_path(target).lstrip("/")) for target in COMPONENTS}
    paths["/dist"] = str(root / "dist")
    paths["/usr/local/bin/python"] = sys.executable
    return paths


def localised(run: Instruction, paths: dict[str, str]) -> str:
    command = run.arguments
    for image_path in sorted(paths, key=len, reverse=True):
        command = command.replace(image_path, paths[image_path])
    return command


def stage_environment(stage: Stage, uv: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    for instruction in stage.all("ENV"):
        env.update(instruction.pairs())
    # uv's cache keeps this test fast; the image disables it only to stay small. Compiling
    # bytecode matters for a read-only container, not for this check.
    env.pop("UV_NO_CACHE", None)
    env["UV_COMPILE_BYTECODE"] = "0"
    env["PATH"] = f"{Path(uv).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed(venv: Path) -> dict[str, str]:
    listing = subprocess.run(
        [uv_binary(), "pip", "list", "--python", str(venv / "bin" / "python"), "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {normalised(p["name"]): p["version"] for p in json.loads(listing)}


def locked_versions() -> dict[str, str]:
    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
    return {normalised(p["name"]): p["version"] for p in lock["package"] if "version" in p}


def size_of(directory: Path) -> int:
    return sum(
        (Path(root) / name).lstat().st_size
        for root, _, files in os.walk(directory)
        for name in files
    )


def listed_commands(help_text: str) -> set[str]:
    """The subcommands `changetrail --help` lists (rich's boxed table or click's plain list)."""
    section = help_text.split("Commands", 1)[1]
    return set(re.findall(r"^\S?\s{1,2}([a-z][a-z0-9-]*)\s{2,}\S", section, flags=re.MULTILINE))


def changetrail(
    venv: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    # Only the venv on PATH, as in the image, where it comes before the system's directories.
    base = {"PATH": str(venv / "bin"), "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "100"}
    return subprocess.run(
        [str(venv / "bin" / "changetrail"), *args],
        env=base | (env or {}),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def build_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build stage, run once: both venvs, at their image paths under a temporary root."""
    root = tmp_path_factory.mktemp("image")
    uv = uv_binary()
    workdir = root / "src"
    workdir.mkdir()
    replay_copies(BUILD_STAGE, workdir)
    env = stage_environment(BUILD_STAGE, uv)
    paths = image_paths_to(root)

    # `pip install uv==...` is the one step not replayed: the development install already
    # has uv, and the Dockerfile pins the same release (checked below).
    runs = [r for r in BUILD_STAGE.all("RUN") if not r.arguments.startswith("python -m pip")]
    assert [r.arguments.split()[:2] for r in runs] == [
        ["uv", "build"],
        ["uv", "export"],
        ["uv", "export"],
    ]
    for run in runs:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", localised(run, paths)],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"{run.arguments}\n{result.stderr}"
    return root


def venv_in(root: Path, target: str) -> Path:
    return root / venv_path(target).lstrip("/")


@pytest.mark.parametrize("target", sorted(COMPONENTS))
def test_each_venv_holds_its_component_at_the_locked_versions_and_nothing_else(
    build_root: Path, target: str
) -> None:
    component = COMPONENTS[target]
    venv = venv_in(build_root, target)
    packages = installed(venv)
    print(
        f"\n{target} image venv ({venv_path(target)}): {len(packages)} packages, "
        f"{size_of(venv) / 2**20:.1f} MiB without bytecode"
    )
    for name, version in sorted(packages.items()):
        print(f"  {name}=={version}")

    assert packages[component.distribution] == DOCKERFILE.global_args["VERSION"]
    assert component.needs <= packages.keys(), component.needs - packages.keys()
    assert packages.keys().isdisjoint(component.must_not_have), (
        packages.keys() & component.must_not_have
    )
    # Every version is the one uv.lock pins: the image installs what CI tested.
    locked = locked_versions()
    assert {n: v for n, v in packages.items() if locked.get(n) != v} == {}
    # Runtime dependencies only: nothing from the development group.
    assert not (venv / "bin" / "pytest").exists()


@pytest.mark.parametrize("target", sorted(COMPONENTS))
def test_changetrail_help_lists_only_the_component_commands(build_root: Path, target: str) -> None:
    result = changetrail(venv_in(build_root, target), "--help")
    assert result.returncode == 0, result.stderr
    assert listed_commands(result.stdout) == COMPONENTS[target].commands, result.stdout


def test_the_api_venv_migrates_a_sqlite_database(build_root: Path) -> None:
    # The migrations must be inside the wheel, not only in the source tree.
    database = build_root / "data" / "changetrail.db"
    database.parent.mkdir()
    migrate = changetrail(
        venv_in(build_root, "api"),
        "migrate",
        env={"CHANGETRAIL_DATABASE_URL": f"sqlite:///{database}"},
        cwd=build_root,
    )
    assert migrate.returncode == 0, migrate.stderr
    assert database.stat().st_size > 0


def test_the_api_reports_the_image_version(build_root: Path) -> None:
    # Read from the installed package's metadata, so it is the wheel's, not a copy in code.
    result = changetrail(venv_in(build_root, "api"), "openapi")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["info"]["version"] == DOCKERFILE.global_args["VERSION"]


def test_the_operator_command_starts_without_the_api_installed(build_root: Path) -> None:
    result = changetrail(venv_in(build_root, "operator"), "operator", "--help")
    assert result.returncode == 0, result.stderr


def test_the_help_parser_reads_both_help_styles() -> None:
    boxed = (
        "╭─ Commands ─╮\n│ api       Serve.   │\n│           more.    │\n│ keys      Keys.    │\n"
    )
    plain = "Commands:\n  api      Serve.\n           more.\n  keys     Keys.\n"
    assert listed_commands(boxed) == listed_commands(plain) == {"api", "keys"}


def test_the_image_pins_the_uv_release_of_the_development_install() -> None:
    (uv_arg,) = [a for a in BUILD_STAGE.all("ARG") if a.arguments.startswith("UV_VERSION=")]
    pinned = uv_arg.pairs()["UV_VERSION"]
    version = subprocess.run(
        [uv_binary(), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert version.split()[1] == pinned
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert f"UV_VERSION := {pinned}" in makefile
