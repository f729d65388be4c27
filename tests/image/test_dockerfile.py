"""The Dockerfile parses and keeps the images' promises: pinned base, non-root, no compilers.

Two targets, `api` and `operator`, are built FROM one shared `base` stage; each gets its
component's virtual environment from the `build` stage and nothing else.
"""

import re
import tomllib

import pytest
import yaml

from tests.chart.rendering import CHART_DIR, REPO_ROOT

from .dockerfile import DockerfileError, load, parse

DOCKERFILE = load(REPO_ROOT / "Dockerfile")
TARGETS = ("api", "operator")
# python:<major>.<minor>.<patch>-slim[-<debian release>], optionally with a digest.
PINNED_SLIM_PYTHON = re.compile(r"^python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?$")
BUILD_TOOLS = ("gcc", "g++", "clang", "build-essential", "make", "cc ", "libpq-dev", "-dev ")
VALUES = yaml.safe_load((CHART_DIR / "values.yaml").read_text())


def venv_of(target: str) -> str:
    """The one thing a target copies: its component's virtual environment, at the same path."""
    (copy,) = DOCKERFILE.stage(target).all("COPY")
    source, destination = copy.arguments.removeprefix("--from=build ").split()
    assert source == destination, "scripts in a venv name their interpreter by full path"
    return destination


def test_build_is_multi_stage_on_a_pinned_slim_python() -> None:
    assert len(DOCKERFILE.stages) >= 2
    for stage in DOCKERFILE.stages:
        assert stage.name, "every stage is named, so targets and COPY --from can name it"
        assert PINNED_SLIM_PYTHON.match(DOCKERFILE.image_base(stage.name)), stage.base


def test_the_base_image_is_a_build_argument_defaulting_to_the_pinned_slim_python() -> None:
    for stage in (DOCKERFILE.stage("base"), DOCKERFILE.stage("build")):
        assert stage.base == "${PYTHON_IMAGE}"
    assert PINNED_SLIM_PYTHON.match(DOCKERFILE.global_args["PYTHON_IMAGE"])


def test_both_targets_exist_and_share_the_base_stage() -> None:
    for target in TARGETS:
        assert [stage.name for stage in DOCKERFILE.chain(target)] == ["base", target]
    # What the chart's pods rely on in both images comes from the one shared stage.
    base = DOCKERFILE.stage("base")
    assert base.all("ENTRYPOINT")
    assert base.all("RUN"), "the non-root user is created once, in the base stage"


def test_a_plain_docker_build_gives_the_api_image() -> None:
    assert DOCKERFILE.final.name == "api"


@pytest.mark.parametrize("target", TARGETS)
def test_final_stages_install_no_build_tools(target: str) -> None:
    final_runs = " ".join(run.arguments for run in DOCKERFILE.effective(target, "RUN"))
    assert "apt-get install" not in final_runs
    for tool in BUILD_TOOLS:
        assert tool not in final_runs, tool
    # The application arrives built from the build stage, not compiled in place.
    copies = [c.arguments for c in DOCKERFILE.effective(target, "COPY")]
    assert copies == [f"--from=build /opt/changetrail-{target} /opt/changetrail-{target}"]


@pytest.mark.parametrize("target", TARGETS)
def test_final_stages_run_as_the_chart_non_root_user(target: str) -> None:
    user = DOCKERFILE.effective_last(target, "USER").arguments
    uid, _, gid = user.partition(":")
    assert uid.isdigit()
    assert int(uid) != 0
    assert int(uid) == VALUES["podSecurityContext"]["runAsUser"]
    assert int(gid) == VALUES["podSecurityContext"]["runAsGroup"]


@pytest.mark.parametrize("target", TARGETS)
def test_the_component_venv_comes_first_on_the_path(target: str) -> None:
    env = DOCKERFILE.effective_pairs(target, "ENV")
    assert env["PATH"].split(":")[0] == f"{venv_of(target)}/bin"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"


def test_entrypoint_is_the_changetrail_cli_serving_each_component_by_default() -> None:
    for target in TARGETS:
        assert DOCKERFILE.effective_last(target, "ENTRYPOINT").exec_form() == ["changetrail"]
    api_command = DOCKERFILE.effective_last("api", "CMD").exec_form()
    # A container must listen beyond its own loopback for the Service to reach it.
    assert api_command == ["api", "--host", "0.0.0.0", "--port", "8080"]  # noqa: S104
    assert DOCKERFILE.effective_last("operator", "CMD").exec_form() == ["operator"]


@pytest.mark.parametrize("target", TARGETS)
def test_image_carries_oci_labels(target: str) -> None:
    labels = DOCKERFILE.effective_pairs(target, "LABEL")
    for key in ("title", "description", "version", "licenses"):
        assert labels.get(f"org.opencontainers.image.{key}"), key
    assert labels["org.opencontainers.image.title"] == f"changetrail-{target}"
    # The version label is the VERSION build argument, declared in the stage that uses it.
    assert labels["org.opencontainers.image.version"] == "${VERSION}"
    assert "VERSION" in DOCKERFILE.stage("base").all("ARG")[0].pairs()


def test_one_version_number_for_both_packages_the_chart_and_the_images() -> None:
    def package_version(component: str) -> str:
        project = tomllib.loads((REPO_ROOT / component / "pyproject.toml").read_text())
        return str(project["project"]["version"])

    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    versions = {
        "api/pyproject.toml": package_version("api"),
        "operator/pyproject.toml": package_version("operator"),
        "Chart.yaml appVersion": chart["appVersion"],
        "Dockerfile VERSION": DOCKERFILE.global_args["VERSION"],
    }
    assert len(set(versions.values())) == 1, versions


@pytest.mark.parametrize("target", TARGETS)
def test_each_component_installs_only_what_uv_lock_pins_for_it(target: str) -> None:
    venv = venv_of(target)
    (command,) = [
        run.arguments
        for run in DOCKERFILE.stage("build").all("RUN")
        if f"uv venv --python /usr/local/bin/python {venv}" in run.arguments
    ]
    export = f"uv export --package changetrail-{target} --no-dev --frozen --no-emit-workspace"
    assert export in command
    assert "--no-hashes" not in command
    assert "--require-hashes --no-build" in command
    assert f"--no-deps /dist/changetrail_{target}-*.whl" in command
    assert f"uv pip check --python {venv}/bin/python" in command


def test_sqlite_default_points_at_the_data_directory_the_chart_mounts() -> None:
    env = DOCKERFILE.effective_pairs("api", "ENV")
    directory = VALUES["database"]["sqlite"]["directory"]
    assert env["CHANGETRAIL_DATABASE_URL"] == f"sqlite:///{directory}/changetrail.db"
    assert DOCKERFILE.effective_last("api", "WORKDIR").arguments == directory
    assert "CHANGETRAIL_DATABASE_URL" not in DOCKERFILE.effective_pairs("operator", "ENV")


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


def test_the_reader_follows_targets_to_the_stages_they_are_built_from() -> None:
    dockerfile = parse(
        "ARG IMAGE=python:3.11.14-slim\n"
        "FROM ${IMAGE} AS base\nENV A=1 B=1\nUSER 1\n"
        "FROM base AS app\nENV B=2\n"
    )
    assert [stage.name for stage in dockerfile.chain("app")] == ["base", "app"]
    assert dockerfile.image_base("app") == "python:3.11.14-slim"
    assert dockerfile.effective_pairs("app", "ENV") == {"A": "1", "B": "2"}
    assert dockerfile.effective_last("app", "USER").arguments == "1"
    with pytest.raises(DockerfileError):
        dockerfile.effective_last("app", "CMD")


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
