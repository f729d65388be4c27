"""Pod templates, as every workload kind keeps, diffs and words them.

Every kind with a pod template keeps it this way (Deployments, StatefulSets, DaemonSets, Argo
Rollouts, CronJobs' job templates), and differs only in what surrounds the template. The state
holds hashes of env values, args and volumes, never the values: env values may be secrets.
Image references and resource quantities are kept as they are: short, never secret, and what
a summary names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from changetrail_operator.bodies import as_dict, as_list, opt_str, str_dict
from changetrail_operator.diffs import keyed
from changetrail_operator.hashing import JsonDict, content_hash

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
_INIT = "init:"  # init containers are keyed apart: a container may share an init's name
_KNOWN_CONTAINER_FIELDS = {"name", "image", "env", "envFrom", "args", "command", "resources"}


@dataclass(frozen=True, slots=True)
class ContainerFacts:
    image: str | None
    env: dict[str, str]  # variable name → hash of its value or source
    env_from: str
    args: str
    command: str
    # Quantities are short and never secret; keeping them lets a summary say "cpu 500m → 1".
    resources: JsonDict
    other: str  # every other container field, hashed together

    @classmethod
    def of(cls, container: Mapping[str, Any]) -> ContainerFacts:
        rest = {
            key: value for key, value in container.items() if key not in _KNOWN_CONTAINER_FIELDS
        }
        return cls(
            image=opt_str(container.get("image")),
            env={
                str(item.get("name")): content_hash(
                    {"value": item.get("value"), "valueFrom": item.get("valueFrom")}, 8
                )
                for item in as_list(container.get("env"))
                if isinstance(item, Mapping)
            },
            env_from=content_hash(container.get("envFrom"), 8),
            args=content_hash(container.get("args"), 8),
            command=content_hash(container.get("command"), 8),
            resources=dict(as_dict(container.get("resources"))),
            other=content_hash(rest, 8),
        )

    def to_json(self) -> JsonDict:
        return {
            "image": self.image,
            "env": dict(self.env),
            "env_from": self.env_from,
            "args": self.args,
            "command": self.command,
            "resources": self.resources,
            "other": self.other,
        }

    @classmethod
    def from_json(cls, data: Any) -> ContainerFacts:
        data = as_dict(data)
        return cls(
            image=opt_str(data.get("image")),
            env=str_dict(data.get("env")),
            env_from=str(data.get("env_from")),
            args=str(data.get("args")),
            command=str(data.get("command")),
            resources=dict(as_dict(data.get("resources"))),
            other=str(data.get("other")),
        )


@dataclass(frozen=True, slots=True)
class PodTemplate:
    """The compact state of a pod template, stored as top-level fields of its kind's state."""

    digest: str  # the whole template's hash: equal templates, equal digests
    restarted_at: str | None  # ``kubectl rollout restart`` writes only this annotation
    containers: dict[str, ContainerFacts]  # by name; init containers as "init:<name>"
    volumes: dict[str, str]  # volume name → hash of the volume
    pod: str  # hash of every other pod-spec field
    template_meta: str  # hash of the template's labels and annotations, restartedAt aside
    configmaps: tuple[str, ...]  # the ConfigMaps the pods use, sorted

    @classmethod
    def of(cls, template: Mapping[str, Any]) -> PodTemplate:
        template_meta = as_dict(template.get("metadata"))
        annotations = as_dict(template_meta.get("annotations"))
        pod_spec = as_dict(template.get("spec"))
        containers: dict[str, ContainerFacts] = {}
        for key, prefix in (("initContainers", _INIT), ("containers", "")):
            for container in as_list(pod_spec.get(key)):
                container = as_dict(container)
                containers[prefix + str(container.get("name"))] = ContainerFacts.of(container)
        pod_rest = {
            key: value
            for key, value in pod_spec.items()
            if key not in {"containers", "initContainers", "volumes"}
        }
        meta_rest = {
            "labels": template_meta.get("labels"),
            "annotations": {
                key: value for key, value in annotations.items() if key != RESTARTED_AT
            },
        }
        return cls(
            digest=content_hash(template),
            restarted_at=opt_str(annotations.get(RESTARTED_AT)),
            containers=containers,
            volumes={
                str(as_dict(volume).get("name")): content_hash(volume, 8)
                for volume in as_list(pod_spec.get("volumes"))
            },
            pod=content_hash(pod_rest, 8),
            template_meta=content_hash(meta_rest, 8),
            configmaps=tuple(referenced_configmaps(pod_spec)),
        )

    def to_json(self) -> JsonDict:
        return {
            "template": self.digest,
            "restarted_at": self.restarted_at,
            "containers": {name: facts.to_json() for name, facts in self.containers.items()},
            "volumes": dict(self.volumes),
            "pod": self.pod,
            "template_meta": self.template_meta,
            "configmaps": list(self.configmaps),
        }

    @classmethod
    def from_json(cls, data: JsonDict) -> PodTemplate:
        return cls(
            digest=str(data.get("template")),
            restarted_at=opt_str(data.get("restarted_at")),
            containers={
                str(name): ContainerFacts.from_json(facts)
                for name, facts in as_dict(data.get("containers")).items()
            },
            volumes=str_dict(data.get("volumes")),
            pod=str(data.get("pod")),
            template_meta=str(data.get("template_meta")),
            configmaps=tuple(str(name) for name in as_list(data.get("configmaps"))),
        )

    def images(self) -> list[str]:
        """The images of the main containers, by container name (init containers aside)."""
        return [
            str(facts.image)
            for name, facts in sorted(self.containers.items())
            if not name.startswith(_INIT)
        ]


def referenced_configmaps(pod_spec: Mapping[str, Any]) -> list[str]:
    """Names of the ConfigMaps a pod spec mounts or reads into its environment."""
    names: set[str] = set()
    for volume in as_list(pod_spec.get("volumes")):
        volume = as_dict(volume)
        if name := as_dict(volume.get("configMap")).get("name"):
            names.add(str(name))
        for source in as_list(as_dict(volume.get("projected")).get("sources")):
            if name := as_dict(as_dict(source).get("configMap")).get("name"):
                names.add(str(name))
    for key in ("containers", "initContainers"):
        for container in as_list(pod_spec.get(key)):
            container = as_dict(container)
            for env_from in as_list(container.get("envFrom")):
                if name := as_dict(as_dict(env_from).get("configMapRef")).get("name"):
                    names.add(str(name))
            for env in as_list(container.get("env")):
                ref = as_dict(as_dict(as_dict(env).get("valueFrom")).get("configMapKeyRef"))
                if name := ref.get("name"):
                    names.add(str(name))
    return sorted(names)


def referenced_secrets(pod_spec: Mapping[str, Any]) -> list[str]:
    """Names of the Secrets a pod spec mounts or reads into its environment."""
    names: set[str] = set()
    for volume in as_list(pod_spec.get("volumes")):
        volume = as_dict(volume)
        if name := as_dict(volume.get("secret")).get("secretName"):
            names.add(str(name))
        for source in as_list(as_dict(volume.get("projected")).get("sources")):
            if name := as_dict(as_dict(source).get("secret")).get("name"):
                names.add(str(name))
    for key in ("containers", "initContainers"):
        for container in as_list(pod_spec.get(key)):
            container = as_dict(container)
            for env_from in as_list(container.get("envFrom")):
                if name := as_dict(as_dict(env_from).get("secretRef")).get("name"):
                    names.add(str(name))
            for env in as_list(container.get("env")):
                ref = as_dict(as_dict(as_dict(env).get("valueFrom")).get("secretKeyRef"))
                if name := ref.get("name"):
                    names.add(str(name))
    return sorted(names)


def diff(old: PodTemplate, new: PodTemplate) -> list[JsonDict]:
    """What changed in a pod template: images, env, args, resources, volumes."""
    entries: list[JsonDict] = []
    for name in sorted(set(old.containers) | set(new.containers)):
        prefix = f"containers.{name}"
        if name not in old.containers:
            entries.append({"field": prefix, "change": "added", "new": new.containers[name].image})
            continue
        if name not in new.containers:
            entries.append(
                {"field": prefix, "change": "removed", "old": old.containers[name].image}
            )
            continue
        before, after = old.containers[name], new.containers[name]
        if before.image != after.image:
            entries.append(
                {
                    "field": f"{prefix}.image",
                    "change": "changed",
                    "old": before.image,
                    "new": after.image,
                }
            )
        entries += keyed(f"{prefix}.env", before.env, after.env)
        for label, old_hash, new_hash in (
            ("envFrom", before.env_from, after.env_from),
            ("args", before.args, after.args),
            ("command", before.command, after.command),
            ("spec", before.other, after.other),
        ):
            if old_hash != new_hash:
                entries.append({"field": f"{prefix}.{label}", "change": "changed"})
        if before.resources != after.resources:
            entries.append(
                {
                    "field": f"{prefix}.resources",
                    "change": "changed",
                    "old": before.resources,
                    "new": after.resources,
                }
            )
    entries += keyed("volumes", old.volumes, new.volumes)
    if old.pod != new.pod:
        entries.append({"field": "pod", "change": "changed"})
    if old.template_meta != new.template_meta:
        entries.append({"field": "template.metadata", "change": "changed"})
    if old.restarted_at != new.restarted_at:
        entries.append(
            {
                "field": "restartedAt",
                "change": "changed",
                "old": old.restarted_at,
                "new": new.restarted_at,
            }
        )
    return entries


def only_restarted(diff: Sequence[JsonDict]) -> bool:
    """Whether a template diff is a restart (``restartedAt``) and nothing else."""
    return bool(diff) and all(entry["field"] == "restartedAt" for entry in diff)


def phrases(diff: Sequence[JsonDict]) -> list[str]:
    """How a summary words a template diff: image transitions first, then what else changed."""
    images = [
        image_transition(entry["old"], entry["new"])
        for entry in diff
        if entry["field"].endswith(".image")
    ]
    others: list[str] = []
    for entry in diff:
        parts = entry["field"].split(".")
        if entry["field"].endswith(".image") or entry["field"] == "restartedAt":
            continue
        if parts[0] == "containers" and len(parts) == 2:
            others.append(f"container {parts[1]} {entry['change']}")
        elif parts[0] == "containers" and parts[2] == "env" and len(parts) > 3:
            others.append(f"env {'.'.join(parts[3:])}")
        elif parts[0] == "containers":
            others.append(f"{parts[2]} ({parts[1]})")
        elif parts[0] == "volumes":
            others.append(f"volume {parts[1]} {entry['change']}")
        else:
            others.append(entry["field"])
    return images + sorted(set(others), key=others.index)


def image_transition(old: str | None, new: str | None) -> str:
    """``registry/api:1.4.2`` → ``registry/api:1.5.0`` reads as ``api:1.4.2 → 1.5.0``."""
    old, new = old or "", new or ""
    old_repo, _, old_tag = old.rpartition(":") if ":" in old.rsplit("/", 1)[-1] else (old, "", "")
    new_repo, _, new_tag = new.rpartition(":") if ":" in new.rsplit("/", 1)[-1] else (new, "", "")
    if old_repo == new_repo and old_tag and new_tag:
        return f"{new_repo.rsplit('/', 1)[-1]}:{old_tag} → {new_tag}"
    return f"{old} → {new}"


def short_image(image: str) -> str:
    return image.rsplit("/", 1)[-1]
