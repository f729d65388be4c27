"""NOTES.txt tells a new user how to reach the API and how to get a key."""

from pathlib import Path

from .rendering import CHART_DIR, NAMESPACE, RELEASE, run_helm


def install_notes(helm: Path, *values: str) -> str:
    # A client-side dry run renders NOTES.txt without a cluster; helm template does not.
    args = ["install", RELEASE, str(CHART_DIR), "--namespace", NAMESPACE, "--dry-run=client"]
    for value in values:
        args += ["--set", value]
    result = run_helm(helm, *args)
    assert result.returncode == 0, result.stderr
    assert "NOTES:" in result.stdout
    return result.stdout.split("NOTES:", 1)[1]


def test_notes_show_how_to_read_the_bootstrap_key(helm: Path) -> None:
    notes = install_notes(helm)
    assert "kubectl --namespace changetrail get secret changetrail-bootstrap" in notes, notes
    assert "{.data.api-key}" in notes
    assert "changetrail keys create" in notes


def test_notes_read_the_key_from_an_existing_secret(helm: Path) -> None:
    notes = install_notes(
        helm, "bootstrap.existingSecret=platform-keys", "bootstrap.existingSecretKey=admin"
    )
    assert "get secret platform-keys" in notes
    assert "{.data.admin}" in notes


def test_without_ingress_notes_show_a_port_forward(helm: Path) -> None:
    notes = install_notes(helm)
    assert "port-forward service/changetrail-api 8080:80" in notes
    assert "http://changetrail-api.changetrail.svc:80" in notes


def test_with_ingress_notes_show_the_public_address(helm: Path) -> None:
    notes = install_notes(
        helm,
        "api.ingress.enabled=true",
        "api.ingress.hosts[0].host=changes.example.org",
        "api.ingress.hosts[0].paths[0].path=/",
        "api.ingress.hosts[0].paths[0].pathType=Prefix",
    )
    assert "http://changes.example.org/" in notes
    assert "port-forward" not in notes


def test_notes_warn_when_sqlite_has_no_volume(helm: Path) -> None:
    assert "changes are lost" in install_notes(helm, "persistence.enabled=false")
    assert "changes are lost" not in install_notes(helm)
