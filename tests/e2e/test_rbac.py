"""The operator runs as the chart's ServiceAccount and may only read what it watches."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import Path

from tests.e2e.harness.kube import Kubectl

WATCHED_RESOURCES = ("deployments.apps", "configmaps", "horizontalpodautoscalers.autoscaling")
READ_VERBS = {"get", "list", "watch"}
# "configmaps   []   []   [get list watch]": resource, resource names, URLs, verbs.
RULE_LINE = re.compile(r"^(?P<resource>\S+)\s+\[.*?\]\s+\[.*?\]\s+\[(?P<verbs>.*)\]\s*$")


def _rules(can_i_list: str) -> dict[str, set[str]]:
    rules: dict[str, set[str]] = {}
    for line in can_i_list.splitlines()[1:]:
        if match := RULE_LINE.match(line):
            rules.setdefault(match["resource"], set()).update(match["verbs"].split())
    return rules


def test_operator_has_no_write_verb_on_watched_kinds(
    kubectl: Kubectl, operator_kubeconfig: Path
) -> None:
    operator = Kubectl(kubectl.binary, operator_kubeconfig)
    rules = _rules(operator.run("auth", "can-i", "--list"))

    for pattern, verbs in rules.items():
        covers_watched = any(fnmatchcase(watched, pattern) for watched in WATCHED_RESOURCES)
        if covers_watched:
            assert verbs <= READ_VERBS, f"{pattern}: {sorted(verbs)}"
    for watched in WATCHED_RESOURCES:
        assert rules.get(watched, set()) >= READ_VERBS, f"{watched} must be readable"


def test_operator_identity_is_the_charts_service_account(
    kubectl: Kubectl, operator_kubeconfig: Path
) -> None:
    operator = Kubectl(kubectl.binary, operator_kubeconfig)

    who = operator.run("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")

    assert who == "system:serviceaccount:changetrail:changetrail-operator"
    assert (
        operator.run(
            "auth", "can-i", "patch", "deployments", "--all-namespaces", check=False
        ).strip()
        == "no"
    )
