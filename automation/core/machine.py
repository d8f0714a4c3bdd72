"""The CPUs and memory a local cluster can be given here. Minikube's docker driver gets what the Docker engine has:
on Docker Desktop (macOS, Windows, and Linux too) that is its VM's, less than the host's; elsewhere it is the
host's, read as each system gives it (Linux: /proc/meminfo; macOS: `sysctl -n hw.memsize`)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from automation.core.runner import Runner

MEMINFO = Path("/proc/meminfo")


@dataclass(frozen=True)
class MachineSize:
    cpus: int
    memory_mb: int  # 0: unknown (an unread memory never refuses anything)
    source: str  # what was read, as the user knows it: "this machine", "Docker's engine (Docker Desktop: its VM)"


def meminfo_mb(text: str) -> int:
    """MemTotal of /proc/meminfo (in kB) in MB; 0 when absent."""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 0


def memsize_mb(text: str) -> int:
    """`sysctl -n hw.memsize` (bytes) in MB; 0 when it is not a number."""
    value = text.strip()
    return int(value) // 1024**2 if value.isdigit() else 0


def docker_size(text: str) -> tuple[int, int] | None:
    """`docker info --format '{{.NCPU}} {{.MemTotal}}'` (MemTotal in bytes): CPUs and MB, None when unreadable."""
    parts = text.split()
    if len(parts) != 2 or not all(part.isdigit() for part in parts) or int(parts[1]) == 0:
        return None
    return int(parts[0]), int(parts[1]) // 1024**2


def host_size(runner: Runner, platform: str = sys.platform, meminfo: Path = MEMINFO) -> MachineSize:
    """This machine's CPUs and memory, by the reader of its operating system."""
    memory = 0
    if platform == "darwin":
        result = runner.try_read(["sysctl", "-n", "hw.memsize"], timeout=30)
        memory = memsize_mb(result.stdout) if result is not None else 0
    elif platform.startswith("linux") and meminfo.is_file():
        memory = meminfo_mb(meminfo.read_text())
    return MachineSize(os.cpu_count() or 1, memory, "this machine")


def cluster_room(runner: Runner, driver: str | None, platform: str = sys.platform,
                 meminfo: Path = MEMINFO) -> MachineSize:
    """What a local cluster with this driver can be given: the Docker engine's size for the docker driver (when
    the engine answers), otherwise this machine's."""
    if driver == "docker":
        result = runner.try_read(["docker", "info", "--format", "{{.NCPU}} {{.MemTotal}}"], timeout=30)
        size = docker_size(result.stdout) if result is not None else None
        if size is not None:
            return MachineSize(size[0], size[1], "Docker's engine (on Docker Desktop, its VM)")
    return host_size(runner, platform, meminfo)
