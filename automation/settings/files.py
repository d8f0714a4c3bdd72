"""The settings file (`targets.yaml`): every target described once, loaded into typed, validated objects.

A target inherits `defaults`, may `extends:` another target, and overlay files (`--settings FILE`, or the
`AUTOMATION_SETTINGS` environment variable, colon-separated) are deep-merged on top. Lists named `values`
accumulate (common values first, then each overlay's); every other key is replaced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from automation.core.errors import UserError
from automation.core.paths import REPO_ROOT, SETTINGS_FILE
from automation.settings.model import Minikube, Target

_TARGET = TypeAdapter(Target)
_TOP_KEYS = {"defaults", "targets"}
# The settings blocks each provider cannot run without.
_REQUIRED_BLOCKS = {"minikube": ("minikube", "mounts"), "existing": ("mounts",), "gke": ("gke",),
                    "composer": ("composer",), "composer-rehearsal": ("mounts", "composer")}
_BLOCK_FIX = {"mounts": "add mounts.dags and mounts.data"}


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f"settings file {path} does not exist", "check the path given to --settings")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserError(f"{path}: invalid YAML{where}: {problem}", "fix the YAML syntax") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping with 'defaults' and 'targets', got {type(data).__name__}")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise UserError(f"{path}: unknown top-level key {sorted(unknown)[0]!r}", "use only 'defaults' and 'targets'")
    if not isinstance(data.get("targets", {}), dict):
        raise UserError(f"{path}: 'targets' must be a mapping of target name to settings")
    return data


def expand(value: Any) -> Any:
    """`{repo}` in any string stands for this repository's folder (for node paths of a local node)."""
    if isinstance(value, str):
        return value.replace("{repo}", str(REPO_ROOT))
    if isinstance(value, dict):
        return {k: expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v) for v in value]
    return value


def deep_merge(base: Any, over: Any, key: str = "") -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for k, v in over.items():
            merged[k] = deep_merge(base.get(k), v, k) if k in base else v
        return merged
    if key == "values" and isinstance(base, list) and isinstance(over, list):
        return base + [v for v in over if v not in base]
    return over


@dataclass
class Settings:
    files: list[Path]
    defaults: dict[str, Any]
    raw_targets: dict[str, tuple[Path, dict[str, Any]]]

    @property
    def names(self) -> list[str]:
        return list(self.raw_targets)

    def _resolve(self, name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
        if name not in self.raw_targets:
            known = ", ".join(self.names)
            raise UserError(f"unknown target {name!r}", f"use one of: {known} (defined in {self.files[0].name})")
        if name in seen:
            raise UserError(f"targets {' -> '.join((*seen, name))} extend each other in a cycle")
        raw = dict(self.raw_targets[name][1])
        parent = raw.pop("extends", None)
        base = self._resolve(parent, (*seen, name)) if parent else self.defaults
        return deep_merge(base, raw)

    def target(self, name: str) -> Target:
        data = expand(self._resolve(name))
        data["name"] = name
        rehearsed = data.get("rehearses")
        if rehearsed is not None and "composer" not in data:
            # One description of the Composer environment: the rehearsal takes the rehearsed target's.
            if rehearsed not in self.raw_targets:
                raise UserError(f"{self.raw_targets[name][0]}: targets.{name}.rehearses: unknown target {rehearsed!r}",
                                f"name a Composer target: one of {', '.join(self.names)}")
            data["composer"] = expand(self._resolve(rehearsed)).get("composer")
        # A value may come from any of the files (a default in an overlay): name them all when there are several.
        path = self.raw_targets[name][0] if len(self.files) == 1 else " + ".join(str(f) for f in self.files)
        try:
            target = _TARGET.validate_python(data)
        except ValidationError as exc:
            raise UserError(_describe(exc, path, name), "fix that key in the settings file") from None
        for block in _REQUIRED_BLOCKS[target.provider]:
            if getattr(target, block) is None:
                raise UserError(f"{path}: targets.{name}.{block}: missing, provider {target.provider!r} needs it",
                                _BLOCK_FIX.get(block, f"add a '{block}:' block to targets.{name}"))
        if target.chart.source == "path" and not target.chart.path:
            raise UserError(f"{path}: targets.{name}.chart.path: missing for source 'path'",
                            "set chart.path to a chart folder or .tgz")
        if target.images.load == "command" and not target.images.command:
            raise UserError(f"{path}: targets.{name}.images.command: missing for load 'command'",
                            "set images.command, for example 'kind load docker-image {image}'")
        if target.images.load == "containerd" and not target.images.containerd_socket:
            raise UserError(f"{path}: targets.{name}.images.containerd_socket: missing for load 'containerd'",
                            "set images.containerd_socket to the node's containerd socket")
        if target.database.mode == "external" and not target.database.url_file:
            raise UserError(f"{path}: targets.{name}.database.url_file: missing for mode 'external'",
                            "point url_file at a git-ignored file holding the SQLAlchemy URL")
        return target


def _describe(exc: ValidationError, path: Path | str, name: str) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith(("function-", "Annotated")))
    got = err.get("input")
    got_text = "" if isinstance(got, dict) else f", got {got!r}"
    message = err["msg"]
    if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        message = "unknown key"
        got_text = ""
    elif err["type"] == "value_error":
        message = message.removeprefix("Value error, ")
        got_text = ""
    elif err["type"] == "missing":
        message = "missing required key"
        got_text = ""
    elif err["type"] == "string_pattern_mismatch":
        pattern = err.get("ctx", {}).get("pattern", "")
        message = ("expected a lowercase DNS name" if "a-z0-9" in pattern
                   else "expected a size such as 40g" if "mMgG" in pattern else "expected a quantity such as 5Gi")
    return f"{path}: targets.{name}.{loc}: {message}{got_text}"


def settings_files(extra: list[str] | None = None) -> list[Path]:
    files = [SETTINGS_FILE]
    env = os.environ.get("AUTOMATION_SETTINGS", "")
    for item in [*env.split(os.pathsep), *(extra or [])]:
        if item:
            p = Path(item).expanduser()
            files.append(p if p.is_absolute() else Path.cwd() / p)
    return files


def load(extra: list[str] | None = None) -> Settings:
    files = settings_files(extra)
    defaults: dict[str, Any] = {}
    targets: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in files:
        data = _read_yaml(path)
        defaults = deep_merge(defaults, data.get("defaults") or {})
        for name, body in (data.get("targets") or {}).items():
            if not isinstance(body, dict):
                raise UserError(f"{path}: targets.{name}: expected a mapping of settings, got {body!r}")
            if name in targets:
                body = deep_merge(targets[name][1], body)
            targets[name] = (path, body)
    return Settings(files, defaults, targets)


def load_target(name: str, extra: list[str] | None = None, **overrides: Any) -> Target:
    target = replace(load(extra).target(name), settings_files=list(extra or []))
    if target.minikube and (overrides.get("cpus") or overrides.get("memory_mb")):
        mk = target.minikube
        try:
            return _with_minikube(target, mk, overrides)
        except ValidationError as exc:
            err = exc.errors()[0]
            flag = {"cpus": "--cpus", "memory_mb": "--memory"}.get(str(err["loc"][0]), str(err["loc"][0]))
            raise UserError(f"{flag}: {err['msg']}, got {err.get('input')!r}", f"pass a larger {flag}") from None
    return target


def _with_minikube(target: Target, mk: Minikube, overrides: dict[str, Any]) -> Target:
    resized = Minikube(profile=mk.profile, cpus=overrides.get("cpus") or mk.cpus,
                       memory_mb=overrides.get("memory_mb") or mk.memory_mb, driver=mk.driver, disk=mk.disk)
    return replace(target, minikube=resized)
