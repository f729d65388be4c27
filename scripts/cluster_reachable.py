"""Exit 0 when the current kubeconfig context (or the in-cluster API) answers HTTP, else 1.

Only reachability is probed: no credentials are sent, so any HTTP answer (even 401) counts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import yaml


def server_url() -> str | None:
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        host = os.environ["KUBERNETES_SERVICE_HOST"]
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        return f"https://{host}:{port}"
    paths = os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config"))
    for path in paths.split(os.pathsep):
        file = Path(path)
        if not file.is_file():
            continue
        config = yaml.safe_load(file.read_text()) or {}
        context_name = config.get("current-context")
        context = next(
            (c["context"] for c in config.get("contexts", []) if c.get("name") == context_name),
            None,
        )
        if context is None:
            continue
        clusters = config.get("clusters", [])
        cluster = next(
            (c["cluster"] for c in clusters if c.get("name") == context["cluster"]), None
        )
        if cluster and cluster.get("server"):
            return str(cluster["server"])
    return None


def main() -> int:
    url = server_url()
    if url is None:
        return 1
    try:
        httpx.get(f"{url.rstrip('/')}/version", verify=False, timeout=3)  # noqa: S501 - probe only
    except httpx.HTTPError:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
