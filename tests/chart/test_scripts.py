"""scripts/ensure-helm.sh and scripts/sync-crds.sh, which the chart checks and e2e rely on."""

import shutil
import subprocess
from pathlib import Path

from .rendering import REPO_ROOT


def test_ensure_helm_prints_only_the_path_of_a_working_binary(helm: Path) -> None:
    again = subprocess.run(
        [str(REPO_ROOT / "scripts" / "ensure-helm.sh")],
        capture_output=True,
        text=True,
        check=True,
    )
    # Callers capture stdout as the path: nothing else may be printed there.
    assert again.stdout.splitlines() == [str(helm)]
    assert helm.is_absolute()
    assert helm.parent.name.startswith("helm-")
    version = subprocess.run(
        [str(helm), "version", "--template", "{{.Version}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert version == "v" + helm.parent.name.removeprefix("helm-")


def fake_repository(root: Path) -> Path:
    (root / "scripts").mkdir()
    shutil.copy2(REPO_ROOT / "scripts" / "sync-crds.sh", root / "scripts")
    (root / "crds").mkdir()
    (root / "charts" / "changetrail" / "crds").mkdir(parents=True)
    return root / "scripts" / "sync-crds.sh"


def test_sync_crds_copies_every_crd_and_drops_removed_ones(tmp_path: Path) -> None:
    script = fake_repository(tmp_path)
    (tmp_path / "crds" / "widgets.example.io.yaml").write_text("kind: CustomResourceDefinition\n")
    chart_crds = tmp_path / "charts" / "changetrail" / "crds"
    (chart_crds / "widgets.example.io.yaml").write_text("stale\n")
    (chart_crds / "removed.example.io.yaml").write_text("gone from crds/\n")

    subprocess.run([str(script)], capture_output=True, check=True)

    assert sorted(p.name for p in chart_crds.iterdir()) == ["widgets.example.io.yaml"]
    copied = (chart_crds / "widgets.example.io.yaml").read_text()
    assert copied == "kind: CustomResourceDefinition\n"


def test_sync_crds_refuses_an_empty_source(tmp_path: Path) -> None:
    script = fake_repository(tmp_path)
    result = subprocess.run([str(script)], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "no CRDs" in result.stderr
