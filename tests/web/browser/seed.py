"""What the browser suite's site holds: a week of changes, an outage and its incident, and a
second organisation whose data must never show."""

from __future__ import annotations

import random
from typing import Any

from tests.web.browser.site import Site, ago

OTHER_ORG_WORD = "ZEBRA-OTHER-ORG"
CONFIG_VALUE = "value-that-must-not-show"
FILLER = 70


def _k8s(kind: str, namespace: str, name: str, diff: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "kubernetes": {"cluster": "prod-eu", "kind": kind, "namespace": namespace, "name": name},
        "diff": diff,
    }


def _tags(kind: str, namespace: str) -> list[str]:
    return ["cluster:prod-eu", f"namespace:{namespace}", f"kind:{kind}"]


def seed(site: Site) -> None:
    ids = site.ids
    payments = site.post(
        "/api/v1/services",
        {"name": "Payments API", "kubernetes": {"namespaces": ["payments"]}},
    )
    checkout = site.post("/api/v1/services", {"name": "Checkout Web"})
    search = site.post("/api/v1/services", {"name": "Search"})
    ids.update(payments=payments["id"], checkout=checkout["id"], search=search["id"])

    rng = random.Random(3)
    services = [payments["id"], checkout["id"], search["id"]]
    for i in range(FILLER):
        change_type = rng.choice(["deployment"] * 5 + ["config_change", "scaling", "feature_flag"])
        site.post(
            "/api/v1/changes",
            {
                "summary": f"Routine {change_type.replace('_', ' ')} #{i}",
                "change_type": change_type,
                "service_id": rng.choice(services),
                "source": rng.choice(["kubernetes", "github", "gitlab"]),
                "environment": rng.choice(["production", "production", "staging"]),
                "changed_by": rng.choice(["argocd-controller", "jane.doe", "ci-bot"]),
                "occurred_at": ago(hours=3 + rng.uniform(0, 24 * 7 - 4)),
                "tags": ["routine"],
            },
        )

    config = site.post(
        "/api/v1/changes",
        {
            "summary": "Config payments/payments-config: 2 keys changed (LOG_LEVEL, TIMEOUT)",
            "change_type": "config_change",
            "service_id": payments["id"],
            "source": "kubernetes",
            "changed_by": "kubectl",
            "occurred_at": ago(minutes=90),
            "tags": _tags("ConfigMap", "payments"),
            "details": {
                **_k8s(
                    "ConfigMap",
                    "payments",
                    "payments-config",
                    [
                        {
                            "field": "data.LOG_LEVEL",
                            "key": "LOG_LEVEL",
                            "change": "changed",
                            "old_hash": "3f1c9a7be4d2aa01",
                            "new_hash": "9b0e77d1c2f4bb10",
                            # A policy may let the operator keep small values: never shown.
                            "old": CONFIG_VALUE,
                            "new": CONFIG_VALUE,
                        },
                        {
                            "field": "data.TIMEOUT",
                            "key": "TIMEOUT",
                            "change": "added",
                            "new_hash": "c0ffee12ab34cd56",
                        },
                    ],
                ),
                "consumers": ["Deployment/payments-api"],
            },
        },
    )
    deploy = site.post(
        "/api/v1/changes",
        {
            "summary": "Deploy payments/payments-api: payments-api:1.4.2 → 1.5.0",
            "change_type": "deployment",
            "service_id": payments["id"],
            "source": "kubernetes",
            "risk_level": "medium",
            "changed_by": "argocd-controller",
            "occurred_at": ago(minutes=60),
            "tags": _tags("Deployment", "payments"),
            "details": _k8s(
                "Deployment",
                "payments",
                "payments-api",
                [
                    {
                        "field": "containers.api.image",
                        "change": "changed",
                        "old": "registry.example/payments-api:1.4.2",
                        "new": "registry.example/payments-api:1.5.0",
                    },
                    {"field": "containers.api.env.FEATURE_FASTPAY", "change": "added"},
                    {
                        "field": "containers.api.resources",
                        "change": "changed",
                        "old": {"limits": {"memory": "512Mi"}, "requests": {"cpu": "250m"}},
                        "new": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "250m"}},
                    },
                ],
            ),
        },
    )
    failed = site.post(
        "/api/v1/changes",
        {
            "summary": "Pipeline 4711 deployed shop/checkout@main to production: failed",
            "change_type": "deployment",
            "service_id": checkout["id"],
            "source": "gitlab",
            "risk_level": "high",
            "changed_by": "ci-bot",
            "commit_sha": "a1b2c3d4e5f6a7b8c9d0",
            "pr_number": "231",
            "pr_url": "https://gitlab.example/shop/checkout/-/merge_requests/231",
            "pipeline_url": "https://gitlab.example/shop/checkout/-/pipelines/4711",
            "occurred_at": ago(minutes=55),
            "tags": ["pipeline", "failed"],
        },
    )
    site.post(
        "/api/v1/changes",
        {
            "summary": "Merged PR #88 into main: faster autocomplete",
            "change_type": "code",
            "service_id": search["id"],
            "source": "github",
            "changed_by": "jane.doe",
            "commit_sha": "0f9e8d7c6b5a",
            "pr_number": 88,
            "pr_url": "https://github.com/example/search/pull/88",
            "occurred_at": ago(minutes=50),
        },
    )
    rollback = site.post(
        "/api/v1/changes",
        {
            "summary": "Roll back payments/payments-api to revision 7 (payments-api:1.4.2)",
            "change_type": "rollback",
            "service_id": payments["id"],
            "source": "kubernetes",
            "risk_level": "high",
            "changed_by": "kubectl",
            "occurred_at": ago(minutes=20),
            "tags": _tags("Deployment", "payments"),
        },
    )
    incident = site.post(
        "/api/v1/incidents",
        {
            "title": "Payments API: 5xx above 5%",
            "started_at": ago(minutes=45),
            "resolved_at": ago(minutes=15),
            "service_ids": [payments["id"]],
            "environment": "production",
            "severity": "critical",
        },
    )
    ids.update(
        config=config["id"],
        deploy=deploy["id"],
        failed=failed["id"],
        rollback=rollback["id"],
        incident=incident["id"],
    )

    other_key = site.key("admin", org="other-org")
    other_service = site.post("/api/v1/services", {"name": "Other Service"}, other_key)
    other_change = site.post(
        "/api/v1/changes",
        {
            "summary": f"Deploy {OTHER_ORG_WORD} secret project",
            "service_id": other_service["id"],
            "occurred_at": ago(minutes=30),
        },
        other_key,
    )
    other_incident = site.post(
        "/api/v1/incidents",
        {"title": f"{OTHER_ORG_WORD} incident", "started_at": ago(minutes=25)},
        other_key,
    )
    ids.update(
        other_service=other_service["id"],
        other_change=other_change["id"],
        other_incident=other_incident["id"],
    )
    site.backdate()
