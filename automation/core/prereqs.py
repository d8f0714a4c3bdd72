"""Prerequisites: each tool found with its version, or reported with how to fix it."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from automation.core.errors import UserError
from automation.core.paths import TOOLS_BIN, cache_dir, rel
from automation.core.runner import Runner
from automation.core.versions import VERSIONS, at_least


@dataclass(frozen=True)
class Tool:
    name: str
    version_cmd: list[str]
    parse: Callable[[str], str]
    minimum: str
    install: str


def _first_version(text: str) -> str:
    match = re.search(r"v?(\d+\.\d+\.\d+)", text)
    return match.group(1) if match else "0"


def _kubectl(text: str) -> str:
    try:
        return _first_version(json.loads(text)["clientVersion"]["gitVersion"])
    except (ValueError, KeyError):
        return _first_version(text)


def _pinned(name: str) -> str:
    return f"run `nox -s tools` ({name} {getattr(VERSIONS, name)}, sha256-checked, into .tools/bin)"


TOOLS = {
    "minikube": Tool("minikube", ["minikube", "version", "--short"], _first_version, VERSIONS.min_minikube,
                     _pinned("minikube")),
    "kubectl": Tool("kubectl", ["kubectl", "version", "--client", "-o", "json"], _kubectl, VERSIONS.min_kubectl,
                    _pinned("kubectl")),
    "helm": Tool("helm", ["helm", "version", "--short"], _first_version, VERSIONS.min_helm,
                 _pinned("helm")),
    "docker": Tool("docker", ["docker", "version", "--format", "{{.Client.Version}}"], _first_version,
                   VERSIONS.min_docker, "install Docker Engine or Docker Desktop and start it"),
    "gcloud": Tool("gcloud", ["gcloud", "version", "--format=json"], _first_version, VERSIONS.min_gcloud,
                   "install the Google Cloud CLI: https://cloud.google.com/sdk/docs/install"),
}


def source(binary: str) -> str:
    """Which copy runs, and why: the pinned one of `python -m automation tools`, or PATH's."""
    pinned = Path(binary).parent == TOOLS_BIN
    return f"{rel(Path(binary))}, {'project copy from `automation tools`' if pinned else 'from PATH'}"


def _version_cache() -> Path:
    return cache_dir() / "tool-versions.json"


def _version(runner: Runner, tool: Tool, binary: str) -> str:
    """The tool's version, asked once per binary: a `helm version` costs a process start on every `up`, and
    the same file (path, size, modification time) always answers the same."""
    info = Path(binary).stat()
    key = f"{binary}:{info.st_size}:{info.st_mtime_ns}"
    try:
        known = dict(json.loads(_version_cache().read_text()))
    except (OSError, ValueError):
        known = {}
    if key in known:
        return str(known[key])
    result = runner.try_read(tool.version_cmd, timeout=30)
    version = tool.parse(result.stdout if result else "")
    if result is not None and version != "0":
        known[key] = version
        with contextlib.suppress(OSError):
            _version_cache().parent.mkdir(parents=True, exist_ok=True)
            staged = _version_cache().with_suffix(f".{os.getpid()}")
            staged.write_text(json.dumps(known, sort_keys=True))
            os.replace(staged, _version_cache())
    return version


def check(runner: Runner, names: tuple[str, ...]) -> dict[str, str]:
    """Found versions by tool; every problem is listed, then one error (a warning in a dry run)."""
    found: dict[str, str] = {}
    where: dict[str, str] = {}
    problems: list[str] = []
    for name in names:
        tool = TOOLS[name]
        binary = runner.which(name)
        if binary is None:
            problems.append(f"{name} not found ({tool.install})")
            continue
        version = _version(runner, tool, binary)
        if not at_least(version, tool.minimum):
            problems.append(f"{name} {version} is older than {tool.minimum} ({tool.install})")
            continue
        found[name] = version
        where[name] = source(binary)
    runner.ok(", ".join(f"{k} {v} ({where[k]})" for k, v in found.items()) or "no tools found")
    for problem in problems:
        runner.say(f"    {'warning' if runner.dry_run else 'missing'}: {problem}")
    if problems and not runner.dry_run:
        first = problems[0]
        raise UserError(first.split(" (")[0] + (f" (and {len(problems) - 1} more above)" if len(problems) > 1 else ""),
                        first.split(" (", 1)[1].rstrip(")") if " (" in first else None)
    return found
