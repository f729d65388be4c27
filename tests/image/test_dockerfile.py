"""The Dockerfile parses and keeps the image's promises: pinned base, non-root, no compilers."""

import re

import pytest
import yaml

from tests.chart.rendering import CHART_DIR, REPO_ROOT

from .dockerfile import DockerfileError, load, parse

DOCKERFILE = load(REPO_ROOT / "Dockerfile")
# python:<major>.<minor>.<patch>-slim[-<debian release>], optionally with a digest.
PINNED_SLIM_PYTHON = re.compile(r"^python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?$")
BUILD_TOOLS = ("gcc", "g++", "clang", "build-essential", "make", "cc ", "libpq-dev", "-dev ")


def resolved_base(base: str) -> str:
    """The base image with global ARGs substituted, as docker build would see it."""
    return re.sub(r"\$\{(\w+)\}", lambda m: DOCKERFILE.global_args[m[1]], base)


def test_build_is_multi_stage_on_a_pinned_slim_python() -> None:
    assert len(DOCKERFILE.stages) >= 2
    for stage in DOCKERFILE.stages:
        assert PINNED_SLIM_PYTHON.match(resolved_base(stage.base)), stage.base


def test_final_stage_installs_no_build_tools() -> None:
    final_runs = " ".join(run.arguments for run in DOCKERFILE.final.all("RUN"))
    assert "apt-get install" not in final_runs
    for tool in BUILD_TOOLS:
        assert tool not in final_runs, tool
    # The application arrives built from the build stage, not compiled in place.
    copies = [c.arguments for c in DOCKERFILE.final.all("COPY")]
    assert copies == ["--from=build /opt/changetrail /opt/changetrail"]


def test_final_stage_runs_as_the_chart_non_root_user() -> None:
    user = DOCKERFILE.final.last("USER").arguments
    uid, _, gid = user.partition(":")
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert uid.isdigit()
    assert int(uid) != 0
    assert int(uid) == values["podSecurityContext"]["runAsUser"]
    assert int(gid) == values["podSecurityContext"]["runAsGroup"]


def test_entrypoint_is_the_changetrail_cli_serving_the_api_by_default() -> None:
    assert DOCKERFILE.final.last("ENTRYPOINT").exec_form() == ["changetrail"]
    command = DOCKERFILE.final.last("CMD").exec_form()
    # A container must listen beyond its own loopback for the Service to reach it.
    assert command[:3] == ["api", "--host", "0.0.0.0"]  # noqa: S104


def test_image_carries_oci_labels() -> None:
    labels: dict[str, str] = {}
    for label in DOCKERFILE.final.all("LABEL"):
        labels.update(label.pairs())
    for key in ("title", "description", "version", "licenses"):
        assert labels.get(f"org.opencontainers.image.{key}"), key


def test_sqlite_default_points_at_the_data_directory_the_chart_mounts() -> None:
    env: dict[str, str] = {}
    for instruction in DOCKERFILE.final.all("ENV"):
        env.update(instruction.pairs())
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    directory = values["database"]["sqlite"]["directory"]
    assert env["CHANGETRAIL_DATABASE_URL"] == f"sqlite:///{directory}/changetrail.db"
    assert DOCKERFILE.final.last("WORKDIR").arguments == directory


def test_build_context_holds_only_what_the_image_copies() -> None:
    ignore = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ignore[0] == "*"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = {
        source.rstrip("/")
        for stage in DOCKERFILE.stages
        for copy in stage.all("COPY")
        if not copy.arguments.startswith("--from")
        for source in copy.arguments.split()[:-1]
    }
    assert copied == allowed


@pytest.mark.parametrize(
    "broken",
    [
        "RUN echo before any stage\n",
        "FROM python:3.11.14-slim\nFROBNICATE x\n",
        "FROM python:3.11.14-slim\nRUN echo \\\n",
        "FROM python:3.11.14-slim AS\n",
    ],
)
def test_the_reader_rejects_broken_dockerfiles(broken: str) -> None:
    with pytest.raises(DockerfileError):
        parse(broken)
