"""The chart's own pods on the real node: they start from the images built here, their
probes pass, the restricted security context is what the running processes really get,
and the operator reaches the API through the chart's Service by its cluster DNS name."""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.harness.chart_pods import ChartPods
from tests.e2e.harness.cluster import Cluster
from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.node import RealNode
from tests.e2e.harness.stack import DOCS_IMAGE_PREFIX, helm

COMPONENTS = ("api", "operator")
CHART_USER = 10001

# Run by each container's own Python: what the process may do, read from the kernel.
SECURITY_FACTS = r"""
import errno, json, os, ssl, sys

status = dict(
    line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line
)


def write_probe(directory):
    path = os.path.join(directory, ".e2e-write-probe")
    try:
        with open(path, "w") as probe:
            probe.write("x")
        os.remove(path)
        return "writable"
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error.errno))


paths = ["/", "/etc", sys.prefix, "/tmp"] + [p for p in ["/data"] if os.path.isdir(p)]
print(json.dumps({
    "uid": os.getuid(),
    "gid": os.getgid(),
    "capabilities": {k: status[k].strip() for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb")},
    "no_new_privileges": status["NoNewPrivs"].strip(),
    "seccomp": status["Seccomp"].strip(),
    "writes": {path: write_probe(path) for path in paths},
    "ca_certificates": ssl.create_default_context().cert_store_stats()["x509_ca"],
}))
"""


@pytest.mark.parametrize("component", COMPONENTS)
def test_pods_run_the_built_images_on_the_real_node_and_pass_their_probes(
    chart_pods: ChartPods, real_node: RealNode, component: str
) -> None:
    pod = chart_pods.running_pod(component)
    (container,) = [c for c in pod["spec"]["containers"] if c["name"] == component]
    assert pod["spec"]["nodeName"] == real_node.name
    assert container["image"].startswith(f"{DOCS_IMAGE_PREFIX}changetrail-{component}:")
    assert {"livenessProbe", "readinessProbe"} <= set(container)

    # A liveness probe on the wrong port or path restarts the container within
    # periodSeconds x failureThreshold; one that outlives that, still ready, passes it.
    liveness = container["livenessProbe"]
    grace = liveness.get("periodSeconds", 10) * liveness.get("failureThreshold", 3) + 5
    before = chart_pods.container_status(component)
    time.sleep(max(0.0, grace - chart_pods.running_for(component)))
    after = chart_pods.container_status(component)
    assert after["containerID"] == before["containerID"]
    assert after["ready"], after
    assert "running" in after["state"], after


@pytest.mark.parametrize("component", COMPONENTS)
def test_containers_run_as_non_root_on_a_read_only_root_with_no_capabilities(
    chart_pods: ChartPods, component: str
) -> None:
    facts = json.loads(chart_pods.exec(component, "python", "-c", SECURITY_FACTS))

    assert (facts["uid"], facts["gid"]) == (CHART_USER, CHART_USER)
    assert {name: int(mask, 16) for name, mask in facts["capabilities"].items()} == {
        "CapEff": 0,
        "CapPrm": 0,
        "CapBnd": 0,
        "CapAmb": 0,
    }
    assert facts["no_new_privileges"] == "1"
    assert facts["seccomp"] == "2", "RuntimeDefault is a seccomp filter"
    writes = facts["writes"]
    assert writes.pop("/tmp") == "writable"
    if component == "api":
        assert writes.pop("/data") == "writable", "the SQLite volume"
    assert set(writes.values()) == {"EROFS"}, writes
    # Without a CA bundle no TLS connection (a webhook, a cloud API) could be verified.
    assert facts["ca_certificates"] > 50


def test_the_operator_reaches_the_api_through_the_service_by_its_dns_name(
    chart_pods: ChartPods, kubectl: Kubectl
) -> None:
    service = kubectl.get("service", chart_pods.deployment("api"), chart_pods.namespace)
    url = chart_pods.exec("operator", "printenv", "CHANGETRAIL_API_URL").strip()
    assert url == f"http://{chart_pods.deployment('api')}.{chart_pods.namespace}.svc:80"

    resolve_and_fetch = (
        "import json, socket, sys, urllib.parse, urllib.request\n"
        "url = sys.argv[1]\n"
        "host = urllib.parse.urlsplit(url).hostname\n"
        "with urllib.request.urlopen(url + '/readyz', timeout=10) as response:\n"
        "    print(json.dumps([socket.gethostbyname(host), response.status]))\n"
    )
    answer = json.loads(chart_pods.exec("operator", "python", "-c", resolve_and_fetch, url))

    assert answer == [service["spec"]["clusterIP"], 200]


def test_helm_test_passes(chart_pods: ChartPods, cluster: Cluster) -> None:
    output = helm(
        cluster.admin_kubeconfig,
        "test",
        chart_pods.release,
        f"--namespace={chart_pods.namespace}",
        "--timeout=3m",
    )

    assert "Phase:          Succeeded" in output, output
