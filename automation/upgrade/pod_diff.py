"""What changed in a task's pod between two Airflow releases: one line per field added, removed or changed.

Pods are compared as the API takes them (camelCase); lists of named things (containers, env, volumes, mounts)
are matched by name, so an added variable reads as one added field. What differs on every build is left out: the
random suffix of the pod's name, and the `airflow_version` label (it always names the release that built it).
"""

from __future__ import annotations

import copy
import json
from typing import Any

Pod = dict[str, Any]
SHORT = 100


def normalized(pod: Pod) -> Pod:
    pod = copy.deepcopy(pod)
    metadata = pod.get("metadata") or {}
    if isinstance(metadata.get("name"), str):
        metadata["name"] = metadata["name"].rsplit("-", 1)[0]  # create_unique_id's random suffix
    (metadata.get("labels") or {}).pop("airflow_version", None)
    return pod


def diff(old: Pod, new: Pod) -> list[str]:
    """`+ path: value` added, `- path: value` removed, `~ path: old -> new` changed (empty: the same pod)."""
    return _diff(normalized(old), normalized(new), "")


def _named(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(i, dict) and "name" in i for i in value)


def _keyed(value: Any) -> Any:
    return {f"[{item['name']}]": item for item in value} if _named(value) else value


def _join(path: str, key: str) -> str:
    return f"{path}{key}" if key.startswith("[") or not path else f"{path}.{key}"


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= SHORT else text[:SHORT - 3] + "..."


def _diff(old: Any, new: Any, path: str) -> list[str]:
    if _named(old) and _named(new):
        old, new = _keyed(old), _keyed(new)
    if isinstance(old, dict) and isinstance(new, dict):
        lines: list[str] = []
        for key in sorted(old.keys() | new.keys()):
            where = _join(path, key)
            if key not in new:
                lines.append(f"- {where}: {_short(old[key])}")
            elif key not in old:
                lines.append(f"+ {where}: {_short(new[key])}")
            else:
                lines += _diff(old[key], new[key], where)
        return lines
    return [] if old == new else [f"~ {path}: {_short(old)} -> {_short(new)}"]
