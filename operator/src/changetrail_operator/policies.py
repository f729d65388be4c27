"""ChangePolicy and ClusterChangePolicy: parsing, matching and the effective policy per object.

A namespaced ``ChangePolicy`` wins over a ``ClusterChangePolicy``; among policies of one scope
the first by name wins. When none matches, the defaults from the operator's settings apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from changetrail_operator.drafts import ChangeType, RiskLevel
from changetrail_operator.hashing import content_hash
from changetrail_operator.kinds import KIND_NAMES
from changetrail_operator.kinds.generic import resource_id
from changetrail_operator.resources import ApiResource

GROUP = "changetrail.io"
VERSION = "v1alpha1"


class PolicyError(ValueError):
    """A policy spec the operator cannot apply; reported in the policy's status."""


@dataclass(frozen=True, slots=True)
class LabelSelector:
    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        for key, operator, values in self.match_expressions:
            present = key in labels
            if operator == "In" and not (present and labels[key] in values):
                return False
            if operator == "NotIn" and present and labels[key] in values:
                return False
            if operator == "Exists" and not present:
                return False
            if operator == "DoesNotExist" and present:
                return False
        return True


@dataclass(frozen=True, slots=True)
class RiskRule:
    change_types: frozenset[ChangeType]
    risk: RiskLevel


@dataclass(frozen=True, slots=True)
class Policy:
    """The rules that govern how matching objects are recorded."""

    name: str = "defaults"
    namespace: str | None = None  # None for a ClusterChangePolicy or the defaults
    kinds: frozenset[str] = frozenset(KIND_NAMES)
    selector: LabelSelector = field(default_factory=LabelSelector)
    namespace_selector: LabelSelector = field(default_factory=LabelSelector)
    record: bool = True
    ignore_names: tuple[str, ...] = ()
    ignore_configmap_keys: tuple[str, ...] = ()
    ignore_paths: tuple[str, ...] = ()
    service_name: str | None = None
    service_from_label: str | None = None
    environment: str | None = None
    default_risk: RiskLevel | None = None
    risk_rules: tuple[RiskRule, ...] = ()
    show_values: bool = False
    visible_keys: tuple[str, ...] = ("*",)
    max_value_bytes: int = 64
    generation: int | None = None
    # Other resources this (cluster) policy names, to be watched and governed by it.
    resources: tuple[ApiResource, ...] = ()

    @property
    def reference(self) -> str:
        if self.namespace is None:
            return f"ClusterChangePolicy/{self.name}"
        return f"ChangePolicy/{self.namespace}/{self.name}"

    def applies_to(
        self,
        kind: str,
        labels: Mapping[str, str],
        namespace: str | None,
        namespace_labels: Mapping[str, str],
    ) -> bool:
        if kind not in self.kinds and kind not in {resource_id(r) for r in self.resources}:
            return False
        if self.namespace is not None and namespace != self.namespace:
            return False
        return self.selector.matches(labels) and self.namespace_selector.matches(namespace_labels)

    def ignores_name(self, name: str) -> bool:
        return any(fnmatchcase(name, pattern) for pattern in self.ignore_names)

    def risk_for(self, change_type: ChangeType) -> RiskLevel | None:
        for rule in self.risk_rules:
            if change_type in rule.change_types:
                return rule.risk
        return self.default_risk

    def shown_value_keys(self) -> tuple[str, ...]:
        return self.visible_keys if self.show_values else ()

    def state_rules(self) -> str | None:
        """A short hash of the rules that shape a compact state (None for the defaults)."""
        rules = (
            self.ignore_configmap_keys,
            self.ignore_paths,
            self.shown_value_keys(),
            self.max_value_bytes if self.show_values else None,
        )
        if not any(rules[:3]):
            return None
        return content_hash([list(rule) if isinstance(rule, tuple) else rule for rule in rules], 8)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PolicyError(f"{where} must be a list of strings")
    return tuple(value)


def parse_selector(raw: Any, where: str) -> LabelSelector:
    if raw is None:
        return LabelSelector()
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where} must be an object")
    labels = raw.get("matchLabels") or {}
    if not isinstance(labels, Mapping):
        raise PolicyError(f"{where}.matchLabels must be an object")
    expressions: list[tuple[str, str, tuple[str, ...]]] = []
    for index, expression in enumerate(raw.get("matchExpressions") or []):
        operator = expression.get("operator")
        if operator not in {"In", "NotIn", "Exists", "DoesNotExist"}:
            raise PolicyError(f"{where}.matchExpressions[{index}].operator is {operator!r}")
        values = _strings(expression.get("values"), f"{where}.matchExpressions[{index}].values")
        if operator in {"In", "NotIn"} and not values:
            raise PolicyError(f"{where}.matchExpressions[{index}] needs values for {operator}")
        expressions.append((str(expression.get("key")), operator, values))
    return LabelSelector(
        match_labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        match_expressions=tuple(expressions),
    )


def parse_policy(
    name: str, namespace: str | None, spec: Mapping[str, Any], generation: int | None = None
) -> Policy:
    """Validate a policy spec (beyond what the CRD schema already enforces) and build it."""
    resources = _resources(spec.get("resources"))
    if resources and namespace is not None:
        raise PolicyError("resources are only valid in a ClusterChangePolicy")
    # A policy naming resources is about them: it governs the watched kinds only when it
    # lists them.
    kinds = _strings(spec.get("kinds"), "kinds") or (() if resources else KIND_NAMES)
    unknown = set(kinds) - set(KIND_NAMES)
    if unknown:
        raise PolicyError(f"kinds: unsupported {sorted(unknown)}; supported {list(KIND_NAMES)}")
    ignore = spec.get("ignore") or {}
    service = spec.get("service") or {}
    risk = spec.get("risk") or {}
    redaction = spec.get("redaction") or {}
    try:
        default_risk = RiskLevel(risk["default"]) if risk.get("default") else None
        rules = tuple(
            RiskRule(
                change_types=frozenset(ChangeType(item) for item in rule.get("changeTypes") or []),
                risk=RiskLevel(rule["risk"]),
            )
            for rule in risk.get("rules") or []
        )
    except (KeyError, ValueError) as error:
        raise PolicyError(f"risk: {error}") from error
    if namespace is not None and spec.get("namespaceSelector") is not None:
        raise PolicyError("namespaceSelector is only valid in a ClusterChangePolicy")
    return Policy(
        name=name,
        namespace=namespace,
        kinds=frozenset(kinds),
        selector=parse_selector(spec.get("selector"), "selector"),
        namespace_selector=parse_selector(spec.get("namespaceSelector"), "namespaceSelector"),
        record=bool(spec.get("record", True)),
        ignore_names=_strings(ignore.get("names"), "ignore.names"),
        ignore_configmap_keys=_strings(ignore.get("configMapKeys"), "ignore.configMapKeys"),
        ignore_paths=_strings(ignore.get("paths"), "ignore.paths"),
        service_name=service.get("name") or None,
        service_from_label=service.get("fromLabel") or None,
        environment=spec.get("environment") or None,
        default_risk=default_risk,
        risk_rules=rules,
        show_values=bool(redaction.get("showValues", False)),
        visible_keys=_strings(redaction.get("keys"), "redaction.keys") or ("*",),
        max_value_bytes=int(redaction.get("maxValueBytes", 64)),
        generation=generation,
        resources=resources,
    )


def _resources(raw: Any) -> tuple[ApiResource, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise PolicyError("resources must be a list")
    found: list[ApiResource] = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping) or not item.get("version") or not item.get("resource"):
            raise PolicyError(f"resources[{index}] needs version and resource (and a group)")
        found.append(
            ApiResource(str(item.get("group") or ""), str(item["version"]), str(item["resource"]))
        )
    return tuple(found)


def named_resources(policies: Iterable[Policy]) -> set[ApiResource]:
    """Every resource the given policies name, to be watched while one of them does."""
    return {resource for policy in policies for resource in policy.resources}


def effective_policy(
    policies: Iterable[Policy],
    defaults: Policy,
    kind: str,
    labels: Mapping[str, str],
    namespace: str | None,
    namespace_labels: Mapping[str, str],
) -> Policy:
    ordered: Sequence[Policy] = sorted(
        policies, key=lambda policy: (policy.namespace is None, policy.namespace or "", policy.name)
    )
    for policy in ordered:
        if policy.applies_to(kind, labels, namespace, namespace_labels):
            return policy
    return defaults
