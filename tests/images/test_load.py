"""`images.load: containerd`: an image streamed from Docker's API into `ctr images import -`, for real.

This machine's single-node Kubernetes runs its own containerd: the image goes into its k8s.io namespace, where
the kubelet finds it. Locally the test skips without that containerd; in CI it fails.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.images.delivery import loader_for
from automation.images.delivery.containerd import saved
from automation.k8s.cluster import LiveCluster
from automation.providers.cluster import Cluster
from automation.settings import load_target
from automation.settings.model import Target
from tests.conftest import docker_available, need, run_cli

SOCKET = Path("/var/tmp/kube-harness/run/containerd.sock")
NAMESPACE = "k8s.io"


def _target(tmp_path: Path, socket: Path | None, namespace: str | None = None) -> Target:
    overlay = tmp_path / "overlay.yaml"
    images = "load: containerd" + (f", containerd_socket: {socket}" if socket else "") + (
        f", containerd_namespace: {namespace}" if namespace else "")
    # No kube context: the nodes' image lists cannot be read, so only containerd itself says what it holds.
    overlay.write_text(f"""
targets:
  nodes:
    extends: existing
    existing: {{kubeconfig: {tmp_path / 'no-kubeconfig'}}}
    images: {{{images}}}
""")
    return load_target("nodes", [str(overlay)])


def _ctr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ctr", "--address", str(SOCKET), "-n", NAMESPACE, *args], capture_output=True,
                          text=True, timeout=120)


def _containerd_reachable() -> bool:
    try:
        return SOCKET.is_socket() and _ctr("version").returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.fixture
def tiny_image() -> Iterator[str]:
    """A one-file image (a few hundred bytes), imported into Docker under a name no one else uses."""
    need(docker_available(), "a running Docker engine")
    import docker

    ref = f"automation-load-test:{uuid.uuid4().hex[:12]}"
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        body = f"{ref}\n".encode()
        info = tarfile.TarInfo("hello.txt")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    engine = docker.from_env()
    repository, tag = ref.split(":")
    engine.api.import_image_from_data(data.getvalue(), repository=repository, tag=tag,
                                      changes=["LABEL airflow-automation.test=load"])
    image_id = engine.images.get(ref).id
    yield ref
    engine.images.remove(ref, force=True)
    if SOCKET.is_socket():  # the name, and the CRI's alias by image id
        _ctr("images", "rm", f"docker.io/library/{ref}", image_id)


def _plan(runner: Runner) -> list[str]:
    return [" ".join(r.cmd) for r in runner.history if r.dry_run]


def _names() -> set[str]:
    listed = _ctr("images", "ls", "-q")
    assert listed.returncode == 0, listed.stderr
    return set(listed.stdout.split())


@pytest.mark.docker
def test_containerd_load_streams_the_image_then_skips_it(tiny_image: str, tmp_path: Path) -> None:
    need(_containerd_reachable(), f"a containerd at {SOCKET} (the local Kubernetes' runtime)")
    target = _target(tmp_path, SOCKET)
    assert f"docker.io/library/{tiny_image}" not in _names()

    first = Runner(out=io.StringIO())
    loader_for(first, target, None).load(tiny_image)
    out = first.out.getvalue()  # type: ignore[attr-defined]
    assert f"$ ctr --address {SOCKET} -n k8s.io images import -" in out
    assert f"docker.io/library/{tiny_image}" in _names()
    imports = [r for r in first.history if r.cmd[-3:] == ["images", "import", "-"]]
    assert len(imports) == 1 and imports[0].exit_code == 0 and not imports[0].dry_run

    second = Runner(out=io.StringIO())
    loader_for(second, target, None).load(tiny_image)
    again = second.out.getvalue()  # type: ignore[attr-defined]
    assert f"{tiny_image}: already in containerd ({SOCKET}, namespace k8s.io)" in again
    assert "images import" not in again
    assert not [r for r in second.history if "import" in r.cmd]


@pytest.mark.docker
def test_containerd_import_failure_is_one_line(tiny_image: str, tmp_path: Path) -> None:
    """A path that is not containerd's socket: ctr's own reason, in one UserError line."""
    need(Runner.which("ctr") is not None, "ctr (containerd's client)")
    not_a_socket = tmp_path / "not-a.sock"
    not_a_socket.write_text("")
    with pytest.raises(UserError) as caught:
        loader_for(Runner(out=io.StringIO()), _target(tmp_path, not_a_socket), None).load(tiny_image)
    line = caught.value.line()
    assert "\n" not in line
    assert f"'ctr --address {not_a_socket} -n k8s.io images import -' failed with exit code" in line
    assert "cluster's containerd" in line


def test_containerd_dry_run_prints_the_import_only(tmp_path: Path) -> None:
    runner = Runner(dry_run=True, out=io.StringIO())
    missing = tmp_path / "absent.sock"
    loader_for(runner, _target(tmp_path, missing), None).load("pandas-basic:0123456789abcdef")
    assert _plan(runner) == [f"ctr --address {missing} -n k8s.io images import -"]
    out = runner.out.getvalue()  # type: ignore[attr-defined]
    assert f"[dry-run] $ ctr --address {missing} -n k8s.io images import -" in out
    assert "streamed from Docker's image save" in out


def test_containerd_namespace_setting_and_missing_socket(tmp_path: Path) -> None:
    target = _target(tmp_path, tmp_path / "absent.sock", namespace="other")
    assert (target.images.load, target.images.containerd_namespace) == ("containerd", "other")
    runner = Runner(dry_run=True, out=io.StringIO())
    loader_for(runner, target, None).load("x:1")
    assert _plan(runner) == [f"ctr --address {tmp_path / 'absent.sock'} -n other images import -"]

    # The settings loader refuses a containerd load without a socket before any loader exists.
    with pytest.raises(UserError) as caught:
        loader_for(Runner(dry_run=True, out=io.StringIO()), _target(tmp_path, None), None).load("x:1")
    assert "images.containerd_socket: missing for load 'containerd'" in caught.value.problem
    assert "containerd_socket" in (caught.value.fix or "")


def test_containerd_plan_through_the_cli(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(f"""
targets:
  nodes:
    extends: existing
    existing: {{kubeconfig: {tmp_path / 'no-kubeconfig'}}}
    images: {{load: containerd, containerd_socket: {tmp_path / 'absent.sock'}}}
""")
    result = run_cli("images", "--dry-run", "--target", "nodes", "--settings", str(overlay), "--only", "notebook",
                     "--base-image", "example.invalid/never-built:1", "--tags-file", str(tmp_path / "x.json"))
    assert result.returncode == 0, result.stderr
    plan = [line.split("$ ", 1)[1] for line in result.stdout.splitlines() if "[dry-run] $ " in line]
    assert plan[-1] == f"ctr --address {tmp_path / 'absent.sock'} -n k8s.io images import -"


class _Nodes(LiveCluster):
    """One node whose kubelet reports `names` as its images."""

    def __init__(self, *names: str):
        self.names = list(names)

    def list(self, kind: str, namespace: str | None = None, selector: str | None = None) -> list[dict[str, Any]]:
        assert kind == "Node"
        return [{"metadata": {"name": "n"}, "status": {"images": [{"names": self.names}]}}]


@pytest.mark.parametrize(("on_node", "skipped"), [
    ("docker.io/library/pandas-basic:0123", True),
    # A registry delivery's leftover is another image: a pod naming pandas-basic:0123 would pull docker.io's.
    ("127.0.0.1:5000/pandas-basic:0123", False),
])
def test_command_load_skips_only_an_image_the_nodes_hold_by_its_exact_name(
        on_node: str, skipped: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("targets:\n  nodes:\n    extends: existing\n"
                       "    images: {load: command, command: 'docker save {image} | import-somewhere'}\n")
    target = load_target("nodes", [str(overlay)])

    class Nodes:  # the cluster the loader is given: its nodes report `on_node`
        def state(self) -> LiveCluster:
            return _Nodes(on_node)

    runner = Runner(dry_run=True, out=io.StringIO())
    loader_for(runner, target, cast(Cluster, Nodes())).load("pandas-basic:0123")
    out = runner.out.getvalue()  # type: ignore[attr-defined]
    assert ("pandas-basic:0123: already on the cluster's nodes" in out) is skipped, out
    assert _plan(runner) == ([] if skipped else ["bash -o pipefail -c docker save pandas-basic:0123 | "
                                                 "import-somewhere"])


class _BrokenSave:
    """An image whose save breaks half-way, as when the engine goes away mid-stream."""

    tags: list[str] = []

    def save(self, named: object) -> Iterator[bytes]:
        from docker.errors import DockerException

        yield b"the first layer\n"
        raise DockerException("engine went away")


def test_a_broken_save_ends_the_import_with_one_line() -> None:
    runner = Runner(out=io.StringIO())
    with pytest.raises(UserError) as caught:
        runner.run(["sh", "-c", "cat >/dev/null; sleep 30"], stdin=saved(_BrokenSave(), "pandas-basic:1"),
                   timeout=20)
    line = caught.value.line()
    assert line.startswith("error: Docker's save of pandas-basic:1 failed: ") and "engine went away" in line
    assert line.endswith(" -- check that Docker is running, then load the image again")
