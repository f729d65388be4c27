"""The Dockerfile's build stage, replayed in a clean virtual environment.

No Docker engine runs in CI, so this test does what `docker build` would do in the build
stage: copy the same files, run the same RUN lines (with the image's paths mapped into a
temporary directory), then checks that the installed CLI starts and can migrate a database.
It proves the wheel carries everything the image needs (code, migrations, entry point) and
that the runtime dependencies install without the development extras.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.chart.rendering import REPO_ROOT

from .dockerfile import Instruction, Stage, load

BUILD_STAGE = load(REPO_ROOT / "Dockerfile").stage("build")


def uv_binary() -> str:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv, "uv is part of the development install (make install)"
    return uv


def replay_copies(stage: Stage, workdir: Path) -> None:
    for copy in stage.all("COPY"):
        *sources, destination = copy.arguments.split()
        for source in sources:
            target = (
                workdir / destination / (Path(source).name if destination.endswith("/") else "")
            )
            if (REPO_ROOT / source).is_dir():
                shutil.copytree(
                    REPO_ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO_ROOT / source, target)


def image_paths_to(root: Path) -> dict[str, str]:
    """Where each absolute path of the build stage lands in this test."""
    return {
        "/opt/changetrail": str(root / "opt" / "changetrail"),
        "/dist": str(root / "dist"),
        "/usr/local/bin/python": sys.executable,
    }


def localised(run: Instruction, paths: dict[str, str]) -> str:
    command = run.arguments
    for image_path, local_path in paths.items():
        command = command.replace(image_path, local_path)
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


def test_build_stage_installs_a_working_changetrail_cli(tmp_path: Path) -> None:
    uv = uv_binary()
    workdir = tmp_path / "src"
    workdir.mkdir()
    replay_copies(BUILD_STAGE, workdir)
    env = stage_environment(BUILD_STAGE, uv)
    paths = image_paths_to(tmp_path)

    # `pip install uv==...` is the one step not replayed: the development install already
    # has uv, and the Dockerfile pins the same release (checked below).
    runs = [r for r in BUILD_STAGE.all("RUN") if not r.arguments.startswith("python -m pip")]
    assert [r.arguments.split()[:2] for r in runs] == [["uv", "build"], ["uv", "venv"]]
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

    venv_bin = Path(paths["/opt/changetrail"]) / "bin"
    help_text = subprocess.run(
        [str(venv_bin / "changetrail"), "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("api", "migrate", "keys"):
        assert command in help_text

    # The migrations must be inside the wheel, not only in the source tree.
    database = tmp_path / "data" / "changetrail.db"
    database.parent.mkdir()
    migrate = subprocess.run(
        [str(venv_bin / "changetrail"), "migrate"],
        env={"PATH": str(venv_bin), "CHANGETRAIL_DATABASE_URL": f"sqlite:///{database}"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    assert database.stat().st_size > 0

    # Runtime dependencies only: nothing from the development extras.
    assert not (venv_bin / "pytest").exists()


def test_the_image_pins_the_uv_release_of_the_development_install() -> None:
    (uv_arg,) = [a for a in BUILD_STAGE.all("ARG") if a.arguments.startswith("UV_VERSION=")]
    pinned = uv_arg.pairs()["UV_VERSION"]
    version = subprocess.run(
        [uv_binary(), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert version.split()[1] == pinned
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert f"UV_VERSION := {pinned}" in makefile
