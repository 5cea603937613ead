"""A minimal kustomize renderer for exactly the features `manifests/` uses, and nothing else.

Why: the real `kustomize` (or `kubectl kustomize`) is not installable from Debian or PyPI on our
machines, and the manifests must be rendered and validated offline in CI. This renders:
`resources` (files and directories with a kustomization.yaml), `namespace`, `labels` (pairs, added
to metadata only, like `includeSelectors: false`), `configMapGenerator` with `files` (`key=path`
allowed), `generatorOptions` with `disableNameSuffixHash: true` and `labels` (on the generated
ConfigMaps), `images` (newName/newTag), and `patches` whose `patch` is an inline JSON 6902 list
with a `target` of kind (and optional name). Any other field fails loudly, so a manifest change
cannot silently outgrow this renderer; where a real kustomize is on PATH, the tests compare its
output with this one.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]
SUPPORTED = {
    "apiVersion",
    "kind",
    "namespace",
    "labels",
    "resources",
    "configMapGenerator",
    "generatorOptions",
    "images",
    "patches",
}
CLUSTER_SCOPED = {"Namespace"}


class Unsupported(Exception):
    """The kustomization uses a feature this renderer does not implement."""


def build(directory: Path) -> list[Obj]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED
    if unknown:
        raise Unsupported(f"{directory}: unsupported kustomization fields {sorted(unknown)}")
    objects: list[Obj] = []
    for entry in kustomization.get("resources") or []:
        path = directory / entry
        if path.is_dir():
            objects.extend(build(path))
        else:
            objects.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    options = kustomization.get("generatorOptions") or {}
    if set(options) - {"disableNameSuffixHash", "labels"}:
        raise Unsupported(f"generatorOptions fields {sorted(options)}")
    generators = kustomization.get("configMapGenerator") or []
    if generators and options.get("disableNameSuffixHash") is not True:
        raise Unsupported("configMapGenerator needs generatorOptions.disableNameSuffixHash: true")
    for generator in generators:
        if set(generator) - {"name", "files"}:
            raise Unsupported(f"configMapGenerator fields {sorted(generator)}")
        data: dict[str, str] = {}
        for spec in generator["files"]:
            key, _, rel = spec.rpartition("=") if "=" in spec else ("", "", spec)
            data[key or Path(rel).name] = (directory / rel).read_text()
        metadata: Obj = {"name": generator["name"]}
        if options.get("labels"):
            metadata["labels"] = dict(options["labels"])
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": metadata,
                "data": dict(sorted(data.items())),
            }
        )
    for patch in kustomization.get("patches") or []:
        _apply_patch(objects, patch)
    for image in kustomization.get("images") or []:
        _set_image(objects, image)
    for obj in objects:
        meta = obj.setdefault("metadata", {})
        if kustomization.get("namespace") and obj["kind"] not in CLUSTER_SCOPED:
            meta["namespace"] = kustomization["namespace"]
        for group in kustomization.get("labels") or []:
            if set(group) - {"pairs"}:
                raise Unsupported(f"labels fields {sorted(group)}")
            meta.setdefault("labels", {}).update(group["pairs"])
    return objects


def _pointer(path: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in path.split("/")[1:]]


def _apply_patch(objects: list[Obj], patch: Obj) -> None:
    target = patch.get("target") or {}
    if set(target) - {"kind", "name"} or set(patch) - {"target", "patch"}:
        raise Unsupported(f"patch fields {sorted(patch)} / target {sorted(target)}")
    operations = yaml.safe_load(patch["patch"])
    if not isinstance(operations, list):
        raise Unsupported("only JSON 6902 patches (a list of operations)")
    matched = [
        o
        for o in objects
        if o["kind"] == target.get("kind")
        and ("name" not in target or o["metadata"]["name"] == target["name"])
    ]
    if not matched:
        raise Unsupported(f"patch target {target} matches nothing")
    for obj in matched:
        for op in operations:
            *parents, last = _pointer(op["path"])
            node: Any = obj
            for part in parents:
                node = node[int(part)] if isinstance(node, list) else node[part]
            key: Any = int(last) if isinstance(node, list) and last != "-" else last
            if op["op"] == "add":
                if isinstance(node, list):
                    node.insert(len(node) if key == "-" else key, copy.deepcopy(op["value"]))
                else:
                    node[key] = copy.deepcopy(op["value"])
            elif op["op"] == "replace":
                node[key]  # must exist, as in RFC 6902
                node[key] = copy.deepcopy(op["value"])
            elif op["op"] == "remove":
                del node[key]
            else:
                raise Unsupported(f"patch op {op['op']}")


def _pod_specs(obj: Obj) -> list[Obj]:
    spec = obj.get("spec") or {}
    if obj["kind"] == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    if "template" in spec:
        return [spec["template"]["spec"]]
    return []


def containers(obj: Obj) -> list[Obj]:
    """Every container and init container of a workload object."""
    return [
        c
        for pod in _pod_specs(obj)
        for c in (pod.get("initContainers") or []) + (pod.get("containers") or [])
    ]


def _set_image(objects: list[Obj], image: Obj) -> None:
    for obj in objects:
        for container in containers(obj):
            name, _, tag = container["image"].partition(":")
            if name == image["name"]:
                container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
