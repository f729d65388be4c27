"""`make image` (scripts/build-images.sh) builds both targets, or says why it cannot."""

import shutil
import subprocess
from pathlib import Path

from tests.chart.rendering import REPO_ROOT

from .dockerfile import load

SCRIPT = REPO_ROOT / "scripts" / "build-images.sh"
VERSION = load(REPO_ROOT / "Dockerfile").global_args["VERSION"]


def tools_dir(tmp_path: Path, docker: str | None) -> Path:
    """A PATH with only what the script needs, and a stand-in docker when given its body."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "sed"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    if docker is not None:
        stub = bin_dir / "docker"
        stub.write_text(f"#!{shutil.which('bash')}\n{docker}\n")
        stub.chmod(0o755)
    return bin_dir


def build(bin_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash")
    assert bash
    return subprocess.run(
        [bash, str(SCRIPT)],
        env={"PATH": str(bin_dir), **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_builds_both_targets_tagged_with_the_release_version(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    result = build(tools_dir(tmp_path, f'echo "$*" >> {calls}'))
    assert result.returncode == 0, result.stderr
    assert calls.read_text().splitlines() == [
        "info",
        f"build --target api --tag changetrail-api:{VERSION} .",
        f"build --target operator --tag changetrail-operator:{VERSION} .",
    ]


def test_a_registry_prefix_and_a_tag_name_both_images(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    bin_dir = tools_dir(tmp_path, f'echo "$*" >> {calls}')
    result = build(bin_dir, IMAGE_PREFIX="registry.example.com/platform/", IMAGE_TAG="dev")
    assert result.returncode == 0, result.stderr
    builds = [line for line in calls.read_text().splitlines() if line.startswith("build")]
    assert [line.split()[4] for line in builds] == [
        "registry.example.com/platform/changetrail-api:dev",
        "registry.example.com/platform/changetrail-operator:dev",
    ]


def test_without_docker_it_fails_saying_what_is_missing(tmp_path: Path) -> None:
    result = build(tools_dir(tmp_path, docker=None))
    assert result.returncode != 0
    assert "install Docker" in result.stderr
    assert "make image-check" in result.stderr


def test_without_a_docker_engine_it_fails_saying_so(tmp_path: Path) -> None:
    result = build(tools_dir(tmp_path, '[ "$1" != info ] || exit 1'))
    assert result.returncode != 0
    assert "no Docker engine answers" in result.stderr
