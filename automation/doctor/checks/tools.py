"""The tools the target's commands run: found, recent enough, and (kubectl) within the version skew
Kubernetes supports against the cluster's API server."""

from __future__ import annotations

from automation.core.prereqs import TOOLS, source
from automation.core.versions import at_least
from automation.doctor.findings import Finding, blocker, ok, warn
from automation.doctor.probe import Probe

# Kubernetes' version skew policy: kubectl is supported within one minor version of the API server.
KUBECTL_SKEW = 1


def client_version(probe: Probe, name: str) -> str | None:
    """The tool's version, asked once per run (the context check needs kubectl's too); None: not found."""

    def ask() -> str | None:
        tool = TOOLS[name]
        if probe.runner.which(name) is None:
            return None
        result = probe.runner.try_read(tool.version_cmd, timeout=10)
        return tool.parse(result.stdout if result else "")

    return probe.once(f"version:{name}", ask)


def wanted_tools(probe: Probe) -> tuple[tuple[str, bool], ...]:
    """(tool, required): the provider's own binaries are needed by `up`; docker only builds images."""
    binaries = probe.provider.binaries
    extra = () if "docker" in binaries or probe.provider.cluster is None else (("docker", False),)
    return (*((name, True) for name in binaries), *extra)


def check_tools(probe: Probe) -> Finding:
    found: list[str] = []
    problems: list[tuple[bool, str, str]] = []  # (blocks, message, fix)
    for name, required in wanted_tools(probe):
        tool = TOOLS[name]
        version = client_version(probe, name)
        if version is None:
            problems.append((required, f"{name} not found", tool.install))
        elif not at_least(version, tool.minimum):
            problems.append((required, f"{name} {version} is older than {tool.minimum}", tool.install))
        else:
            binary = probe.runner.which(name) or name
            found.append(f"{name} {version} ({source(binary).split(', ', 1)[1]})")
    if not problems:
        return ok("tools", ", ".join(found))
    message = "; ".join(p[1] for p in problems) + (f" (found: {', '.join(found)})" if found else "")
    first = next((p for p in problems if p[0]), problems[0])
    return (blocker if any(p[0] for p in problems) else warn)("tools", message, first[2])


def minor(version: str) -> tuple[int, int]:
    parts = version.lstrip("v").split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return 0, 0


def skew(client: str, server: str) -> str | None:
    """Why kubectl `client` is unsupported against API server `server`, or None when it is supported."""
    (cmaj, cmin), (smaj, smin) = minor(client), minor(server)
    if cmaj != smaj or abs(cmin - smin) > KUBECTL_SKEW:
        return (f"kubectl {client} is more than {KUBECTL_SKEW} minor version from the API server's {server} "
                "(Kubernetes' skew policy)")
    return None
