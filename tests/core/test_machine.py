"""`core.machine`: the size a local cluster can get, read by the reader of the operating system (Linux
/proc/meminfo, macOS `sysctl -n hw.memsize`) or, for the docker driver, from the Docker engine (Docker Desktop's VM).
Commands run through the real runner; on this Linux machine the macOS and Docker readings come from stand-in
`sysctl` and `docker` executables on PATH that print what the real ones print."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from automation.core.machine import cluster_room, docker_size, host_size, meminfo_mb, memsize_mb
from automation.core.runner import Runner

# The first lines of a real /proc/meminfo (a 16 GB laptop: 16318792 kB).
MEMINFO = """MemTotal:       16318792 kB
MemFree:          896604 kB
MemAvailable:    9412204 kB
Buffers:          392636 kB
"""
# `sysctl -n hw.memsize` on a 16 GB MacBook; `docker info --format '{{.NCPU}} {{.MemTotal}}'` on Docker Desktop
# for Mac with its default VM (half the memory: 8 GB, of which the VM's kernel reports 7.65 GiB).
MEMSIZE = "17179869184\n"
DOCKER_DESKTOP = "8 8217473024\n"


def stand_in(bin_dir: Path, name: str, output: str, code: int = 0) -> Path:
    """An executable `name` that prints `output` and records its arguments next to it."""
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    calls = bin_dir / f"{name}.calls"
    path.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> {calls}\nprintf '%s' '{output}'\nexit {code}\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder


def runner() -> Runner:
    return Runner(out=io.StringIO())


def test_the_readers_on_real_outputs() -> None:
    assert meminfo_mb(MEMINFO) == 16318792 // 1024 == 15936
    assert meminfo_mb("MemFree: 1 kB\n") == 0
    assert memsize_mb(MEMSIZE) == 16384
    assert memsize_mb("sysctl: unknown oid 'hw.memsize'") == 0
    assert docker_size(DOCKER_DESKTOP) == (8, 7836)
    assert docker_size("") is None
    assert docker_size("<no value> <no value>") is None


def test_macos_reads_sysctl_and_never_proc(bin_dir: Path, tmp_path: Path) -> None:
    stand_in(bin_dir, "sysctl", MEMSIZE)
    size = host_size(runner(), platform="darwin", meminfo=tmp_path / "absent")
    assert (size.memory_mb, size.source) == (16384, "this machine")
    assert (bin_dir / "sysctl.calls").read_text() == "-n hw.memsize\n"


def test_linux_reads_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(MEMINFO)
    assert host_size(runner(), platform="linux", meminfo=meminfo).memory_mb == 15936


def test_an_unknown_system_reads_no_memory(tmp_path: Path) -> None:
    assert host_size(runner(), platform="win32").memory_mb == 0  # unknown: the check then never refuses


def test_the_real_reader_on_this_machine() -> None:
    if not Path("/proc/meminfo").is_file():
        pytest.skip("this test reads a Linux machine's memory")
    # An independent source of the same figure: the kernel's physical pages (sysinfo totalram = MemTotal).
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 1024**2
    size = host_size(runner())
    assert abs(size.memory_mb - physical) <= 1
    assert size.cpus == os.cpu_count()


def test_the_docker_driver_gets_docker_desktops_vm(bin_dir: Path, tmp_path: Path) -> None:
    stand_in(bin_dir, "docker", DOCKER_DESKTOP)
    room = cluster_room(runner(), "docker", platform="darwin", meminfo=tmp_path / "absent")
    assert (room.cpus, room.memory_mb) == (8, 7836)
    assert room.source.startswith("Docker's engine")
    assert (bin_dir / "docker.calls").read_text() == "info --format {{.NCPU}} {{.MemTotal}}\n"


def test_an_engine_that_does_not_answer_falls_back_to_the_host(bin_dir: Path, tmp_path: Path) -> None:
    stand_in(bin_dir, "docker", "Cannot connect to the Docker daemon", code=1)
    stand_in(bin_dir, "sysctl", MEMSIZE)
    room = cluster_room(runner(), "docker", platform="darwin", meminfo=tmp_path / "absent")
    assert (room.memory_mb, room.source) == (16384, "this machine")


def test_other_drivers_read_the_host(bin_dir: Path, tmp_path: Path) -> None:
    stand_in(bin_dir, "docker", DOCKER_DESKTOP)
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(MEMINFO)
    assert cluster_room(runner(), "kvm2", platform="linux", meminfo=meminfo).memory_mb == 15936
    assert not (bin_dir / "docker.calls").exists()
