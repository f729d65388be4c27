"""Labelled incidents for measuring the ranking: each knows the change that truly caused it.

Every scenario is one incident, the change that caused it and a crowd of changes that did not:
hand-placed confounders that make it hard (a riskier deploy of another service a minute
before, the same service in staging, an autoscale after the start, a rollback that fixed it)
plus seeded background noise. Noise on *other* services may land anywhere in the window; noise
on the incident's own services is older than three hours, in another environment, or
autoscaling, so that the hand-placed confounders, not the dice, decide how hard a scenario is.

The tests assert the accuracy floor on these; ``make bench`` reports top-1/top-3 accuracy
against a "most recent change first" baseline. Both import them from here, so they always
measure the same thing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache

from changetrail_api.correlation.model import (
    CandidateChange,
    IncidentFacts,
    KubernetesRef,
    ServiceProfile,
)
from changetrail_api.domain import ChangeType, RiskLevel


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    story: str
    incident: IncidentFacts
    changes: tuple[CandidateChange, ...]
    cause_id: str


def _service(
    name: str, namespaces: tuple[str, ...] = (), workloads: tuple[str, ...] = ()
) -> ServiceProfile:
    return ServiceProfile(
        id=f"svc_{name}",
        names=frozenset({name}),
        namespaces=frozenset(namespaces),
        workloads=frozenset(workloads),
    )


SERVICES = {
    profile.id.removeprefix("svc_"): profile
    for profile in (
        _service("checkout", ("shop",), ("checkout-api",)),
        _service("payments", ("payments",), ("api", "worker")),
        _service("search", ("search",), ("indexer", "query")),
        _service("ledger", ("ledger",), ("ledger",)),
        _service("auth", ("identity",), ("auth",)),
        _service("catalog", ("catalog",), ("catalog",)),
        _service("notifications", ("messaging",), ("mailer", "push")),
        _service("frontend", ("web",), ("frontend",)),
    )
}
T0 = datetime(2026, 3, 30, 15, 0, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    """Minutes relative to the incident's start: -12 is twelve minutes before it."""
    return T0 + timedelta(minutes=minutes)


def change(
    ident: str,
    minutes: float,
    service: str | None,
    change_type: ChangeType = ChangeType.DEPLOYMENT,
    risk: RiskLevel = RiskLevel.LOW,
    environment: str = "production",
    *,
    kubernetes: KubernetesRef | None = None,
    lasts_minutes: float | None = None,
) -> CandidateChange:
    return CandidateChange(
        id=ident,
        change_type=str(change_type),
        risk_level=str(risk),
        occurred_at=_at(minutes),
        ended_at=_at(minutes + lasts_minutes) if lasts_minutes is not None else None,
        service_id=f"svc_{service}" if service else None,
        environment=environment,
        kubernetes=kubernetes,
    )


def incident(*services: str, environment: str | None = "production") -> IncidentFacts:
    return IncidentFacts(
        started_at=T0,
        services=tuple(SERVICES[name] for name in services),
        environment=environment,
    )


_NOISE_TYPES = (
    [ChangeType.DEPLOYMENT] * 6
    + [ChangeType.CONFIG_CHANGE] * 3
    + [ChangeType.SCALING] * 3
    + [ChangeType.INFRASTRUCTURE, ChangeType.FEATURE_FLAG, ChangeType.CODE, ChangeType.ROLLBACK]
)
_NOISE_RISKS = [RiskLevel.LOW] * 5 + [RiskLevel.MEDIUM] * 3 + [RiskLevel.HIGH, RiskLevel.CRITICAL]
_NOISE_ENVIRONMENTS = ["production"] * 6 + ["staging"] * 3 + ["development"]


def background(
    seed: int, incident_services: tuple[str, ...], count: int = 60
) -> list[CandidateChange]:
    """Unrelated changes over the default window (24 h before to 1 h after the start)."""
    rng = random.Random(seed)
    others = [name for name in SERVICES if name not in incident_services]
    noise: list[CandidateChange] = []
    for number in range(count):
        ident = f"noise_{seed}_{number:03d}"
        minutes = rng.uniform(-24 * 60, 60)
        change_type = rng.choice(_NOISE_TYPES)
        risk = rng.choice(_NOISE_RISKS)
        environment = rng.choice(_NOISE_ENVIRONMENTS)
        service: str | None = rng.choice(others) if rng.random() > 0.1 else None
        if incident_services and rng.random() < 0.15:
            # The incident's own services change too, but not in a way that explains it.
            service = rng.choice(incident_services)
            shape = rng.choice(("old", "elsewhere", "autoscale"))
            if shape == "old":
                minutes = rng.uniform(-24 * 60, -3 * 60)
            elif shape == "elsewhere":
                environment = rng.choice(("staging", "development"))
            else:
                change_type, risk = ChangeType.SCALING, RiskLevel.LOW
        noise.append(change(ident, minutes, service, change_type, risk, environment))
    return noise


def _scenario(
    number: int,
    name: str,
    story: str,
    facts: IncidentFacts,
    cause: CandidateChange,
    confounders: list[CandidateChange],
) -> Scenario:
    names = tuple(profile.id.removeprefix("svc_") for profile in facts.services)
    everything = [cause, *confounders, *background(number, names)]
    # Input order must not help: shuffle deterministically.
    random.Random(1000 + number).shuffle(everything)
    return Scenario(name, story, facts, tuple(everything), cause.id)


@cache
def build() -> tuple[Scenario, ...]:
    """The labelled scenario set (deterministic; built once)."""
    D, C, S = ChangeType.DEPLOYMENT, ChangeType.CONFIG_CHANGE, ChangeType.SCALING
    low, medium, high, critical = (
        RiskLevel.LOW,
        RiskLevel.MEDIUM,
        RiskLevel.HIGH,
        RiskLevel.CRITICAL,
    )
    scenarios = [
        _scenario(
            1,
            "bad deploy",
            "checkout's release 12 min before the error spike; search shipped a riskier one "
            "3 min before and checkout's staging deploy 5 min before.",
            incident("checkout"),
            change("cause", -12, "checkout", D, medium),
            [
                change("search_deploy", -3, "search", D, high),
                change("checkout_staging", -5, "checkout", D, medium, "staging"),
                change("checkout_rollback", 8, "checkout", ChangeType.ROLLBACK, medium),
            ],
        ),
        _scenario(
            2,
            "config map consumed by the workload",
            "The operator recorded a ConfigMap change in namespace payments without a service; "
            "payments/api consumes it. A frontend deploy 10 min before and payments autoscaling "
            "after the start compete.",
            incident("payments"),
            change(
                "cause",
                -25,
                None,
                C,
                low,
                kubernetes=KubernetesRef("payments", "ConfigMap", "api-config", ("payments/api",)),
            ),
            [
                change("frontend_deploy", -10, "frontend", D, high),
                change("payments_autoscale", 2, "payments", S, low),
                change("catalog_config", -6, "catalog", C, medium),
            ],
        ),
        _scenario(
            3,
            "slow-burning migration",
            "A ledger schema migration 2 h before locks a table that fills up slowly; "
            "notifications deployed 30 min before, ledger autoscaled 20 min before and rolled "
            "back after the start.",
            incident("ledger"),
            change("cause", -120, "ledger", ChangeType.DATABASE_MIGRATION, high),
            [
                change("notifications_deploy", -30, "notifications", D, medium),
                change("ledger_autoscale", -20, "ledger", S, low),
                change("ledger_rollback", 15, "ledger", ChangeType.ROLLBACK, high),
            ],
        ),
        _scenario(
            4,
            "feature flag",
            "A low-risk flag flip on checkout 7 min before; auth shipped a high-risk deploy "
            "5 min before and catalog changed config 2 min before.",
            incident("checkout"),
            change("cause", -7, "checkout", ChangeType.FEATURE_FLAG, low),
            [
                change("auth_deploy", -5, "auth", D, high),
                change("catalog_config", -2, "catalog", C, medium),
            ],
        ),
        _scenario(
            5,
            "incident without a service",
            "The alert's labels matched no service. The production deploy 6 min before caused "
            "it; staging deploys are closer, a production autoscale is closer, and a high-risk "
            "production deploy happened 3 h before.",
            incident(),
            change("cause", -6, "catalog", D, medium),
            [
                change("staging_deploy_a", -2, "search", D, medium, "staging"),
                change("staging_deploy_b", -1, "checkout", D, high, "staging"),
                change("prod_autoscale", -3, "frontend", S, low),
                change("prod_deploy_earlier", -180, "auth", D, high),
            ],
        ),
        _scenario(
            6,
            "shared infrastructure",
            "A load balancer change with no service (Terraform) 15 min before breaks checkout; "
            "checkout merged code 40 min before and payments deployed 5 min before.",
            incident("checkout"),
            change("cause", -15, None, ChangeType.INFRASTRUCTURE, high),
            [
                change("checkout_code", -40, "checkout", ChangeType.CODE, low),
                change("payments_deploy", -5, "payments", D, high),
            ],
        ),
        _scenario(
            7,
            "rollout in progress",
            "search's rollout started 50 min before and was still rolling when errors began; "
            "search changed config 2 h before, ledger deployed a critical change 1 min before.",
            incident("search"),
            change("cause", -50, "search", D, medium, lasts_minutes=55),
            [
                change("search_config", -120, "search", C, medium),
                change("ledger_deploy", -1, "ledger", D, critical),
            ],
        ),
        _scenario(
            8,
            "namespace link only",
            "The operator recorded a Deployment search/batch-loader without a service mapping; "
            "only its namespace ties it to search. search changed config 5 h before; "
            "frontend deployed 20 min before.",
            incident("search"),
            change(
                "cause",
                -10,
                None,
                D,
                medium,
                kubernetes=KubernetesRef("search", "Deployment", "batch-loader"),
            ),
            [
                change("search_config_old", -300, "search", C, medium),
                change("frontend_deploy", -20, "frontend", D, medium),
            ],
        ),
        _scenario(
            9,
            "incident on two services",
            "Checkout and payments both alert; payments deployed 18 min before. Checkout "
            "deployed 4 h before and autoscaled 5 min before.",
            incident("checkout", "payments"),
            change("cause", -18, "payments", D, medium),
            [
                change("checkout_deploy_old", -240, "checkout", D, medium),
                change("checkout_autoscale", -5, "checkout", S, low),
                change("auth_deploy", -9, "auth", D, high),
            ],
        ),
        _scenario(
            10,
            "recorded just after the start",
            "The deploy's record is stamped a minute after the alert (clock skew, slow "
            "pipeline); the same service deployed 5 h before.",
            incident("auth"),
            change("cause", 1, "auth", D, medium),
            [
                change("auth_deploy_old", -300, "auth", D, medium),
                change("frontend_deploy", -45, "frontend", D, high),
            ],
        ),
        _scenario(
            11,
            "autoscaler limit lowered",
            "Someone lowered catalog's HPA maxReplicas 45 min before; the load peak found it. "
            "catalog autoscaled several times, frontend deployed 10 min before.",
            incident("catalog"),
            change(
                "cause",
                -45,
                "catalog",
                C,
                low,
                kubernetes=KubernetesRef("catalog", "HorizontalPodAutoscaler", "catalog"),
            ),
            [
                change("catalog_autoscale_a", -30, "catalog", S, low),
                change("catalog_autoscale_b", -8, "catalog", S, low),
                change("catalog_autoscale_c", -1, "catalog", S, low),
                change("frontend_deploy", -10, "frontend", D, medium),
            ],
        ),
        _scenario(
            12,
            "security patch",
            "auth's base image security patch 20 min before breaks TLS to a legacy client; "
            "auth deployed 9 h before, payments and search deployed within 15 min.",
            incident("auth"),
            change("cause", -20, "auth", ChangeType.SECURITY_PATCH, high),
            [
                change("auth_deploy_old", -540, "auth", D, medium),
                change("payments_deploy", -15, "payments", D, high),
                change("search_deploy", -4, "search", D, medium),
            ],
        ),
        _scenario(
            13,
            "busy service",
            "notifications deploys every hour; the one 35 min before caused it. The previous "
            "ones were at 1 h 35 min and 2 h 35 min.",
            incident("notifications"),
            change("cause", -35, "notifications", D, low),
            [
                change("notifications_prev_1", -95, "notifications", D, low),
                change("notifications_prev_2", -155, "notifications", D, low),
                change("notifications_prev_3", -215, "notifications", D, low),
            ],
        ),
        _scenario(
            14,
            "staging incident",
            "The incident is in staging: the staging deploy 8 min before caused it, while the "
            "same service deployed to production 4 min before.",
            incident("payments", environment="staging"),
            change("cause", -8, "payments", D, medium, "staging"),
            [
                change("payments_prod_deploy", -4, "payments", D, high, "production"),
                change("payments_dev_deploy", -2, "payments", D, low, "development"),
            ],
        ),
        _scenario(
            15,
            "consumer named by kind",
            "A ConfigMap in namespace shop, recorded under a config service, is consumed by "
            "Deployment/checkout-api; a checkout deploy 6 h before and a critical frontend "
            "deploy 30 min before compete.",
            incident("checkout"),
            replace(
                change(
                    "cause",
                    -14,
                    "frontend",
                    C,
                    medium,
                    kubernetes=KubernetesRef(
                        "shop", "ConfigMap", "shared-flags", ("Deployment/checkout-api",)
                    ),
                ),
                service_id="svc_frontend",
            ),
            [
                change("checkout_deploy_old", -360, "checkout", D, medium),
                change("frontend_deploy", -30, "frontend", D, critical),
            ],
        ),
    ]
    return tuple(scenarios)
