"""The SIMULATED Deployment controller's revisions, for `simulated_api` (not Kubernetes).

What the real controller does that `drills.targets.kubernetes.rollout` relies on, and no more:

* a PATCH of a Deployment may be an RFC 6902 JSON patch (a list: `test`, `add`, `replace`,
  `remove` on `/`-paths, `~1` and `~0` unescaped) — what the real client sends for a list
  body and what `kubectl rollout undo` sends;
* a change of `spec.template` bumps `metadata.generation` and makes a revision: the ReplicaSet
  whose template (without `pod-template-hash`) equals the new one is reused, else a new one is
  created; either way it gets revision max+1 (`deployment.kubernetes.io/revision`, the reused
  one's older numbers in `deployment.kubernetes.io/revision-history`), the Deployment carries
  the same annotation, the other ReplicaSets' pods are deleted and the new one's created;
  `status.observedGeneration` follows at once.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

Obj = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"
HISTORY = "deployment.kubernetes.io/revision-history"
HASH = "pod-template-hash"


class PatchError(Exception):
    """A JSON patch that cannot be applied (answered 422)."""


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def json_patch(document: Obj, operations: list[Any]) -> Obj:
    """RFC 6902 `test`, `add`, `replace`, `remove` (enough for the target's patches)."""
    result = copy.deepcopy(document)
    for op in operations:
        if not isinstance(op, dict) or op.get("op") not in ("test", "add", "replace", "remove"):
            raise PatchError(f"unsupported operation {op!r:.80}")
        tokens = [_unescape(t) for t in str(op.get("path", "")).split("/")[1:]]
        if not tokens:
            raise PatchError("the root cannot be patched here")
        parent: Any = result
        for token in tokens[:-1]:
            parent = parent[int(token)] if isinstance(parent, list) else parent.get(token)
            if parent is None:
                raise PatchError(f"path {op['path']} does not exist")
        last = tokens[-1]
        if op["op"] == "test":
            found = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if found != op.get("value"):
                raise PatchError(f"test of {op['path']} failed: {found!r:.60}")
            continue
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if op["op"] == "remove":
                parent.pop(index)
            elif op["op"] == "add":
                parent.insert(index, copy.deepcopy(op["value"]))
            else:
                parent[index] = copy.deepcopy(op["value"])
        elif op["op"] == "remove":
            if last not in parent:
                raise PatchError(f"path {op['path']} does not exist")
            del parent[last]
        else:
            if op["op"] == "replace" and last not in parent:
                raise PatchError(f"path {op['path']} does not exist")
            parent[last] = copy.deepcopy(op["value"])
    return result


def bare(template: Obj) -> Obj:
    """A pod template without the controller's hash label: what revisions are compared by."""
    plain = copy.deepcopy(template)
    labels = (plain.get("metadata") or {}).get("labels") or {}
    labels.pop(HASH, None)
    return plain


def template_hash(template: Obj) -> str:
    return hashlib.sha256(json.dumps(bare(template), sort_keys=True).encode()).hexdigest()[:10]


def revision_of(obj: Obj) -> int:
    return int(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0"))


def choose_replicaset(replicasets: list[Obj], template: Obj) -> tuple[Obj | None, int]:
    """The ReplicaSet to reuse for `template` (None: create one) and the next revision number."""
    following = max((revision_of(rs) for rs in replicasets), default=0) + 1
    for rs in replicasets:
        if bare(rs["spec"]["template"]) == bare(template):
            return rs, following
    return None, following


def stamp_revision(rs: Obj, revision: int) -> Obj:
    """The ReplicaSet with revision `revision`, its previous number kept in the history."""
    rs = copy.deepcopy(rs)
    annotations = rs["metadata"].setdefault("annotations", {})
    before = annotations.get(REVISION)
    if before is not None and int(before) != revision:
        history = [h for h in annotations.get(HISTORY, "").split(",") if h]
        annotations[HISTORY] = ",".join([*history, str(before)])
    annotations[REVISION] = str(revision)
    return rs
