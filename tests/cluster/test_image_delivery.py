"""Worker images delivered by layers, for real: built on CI's base, pushed to the registry the cluster target
names (CI: Debian's docker-registry on 127.0.0.1:5000), pulled by the node's containerd and run by a pod.

One image is built, then built again with one requirement added: the second build reuses every earlier layer,
the push sends only what changed, and a pod imports the new package. The fallback (the registry does not
answer: the whole image is copied into the node under the same name) is exercised on the same image, and so
is a copy for an image the node holds only under its registry name (which is not the name pods use).
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from automation.core.runner import Runner
from automation.images.build import BuildOptions, BuildReport, Image, build
from automation.images.delivery import loader_for
from automation.images.registry_api import registry_answers
from automation.providers import provider_for
from automation.settings import Target, load_target
from tests.cluster.support import cluster_target, wait_until
from tests.conftest import docker_available, need

pytestmark = pytest.mark.cluster

# Two small packages, then one added (the lock is what `uv pip compile --generate-hashes` wrote for them).
SIX = """six==1.17.0 \\
    --hash=sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274 \\
    --hash=sha256:ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81
    # via -r requirements.in
"""
IDNA = """idna==3.20 \\
    --hash=sha256:a7db850025b95ded1eae8a46181a1a6c56c92c96f0e2b005d9ff8dc0210cab44 \\
    --hash=sha256:ab7ae7122974553370f0bdb919e1a960b2cd1bc1ef0276416d896db81c14582c
    # via -r requirements.in
"""
TABULATE = """tabulate==0.10.0 \\
    --hash=sha256:e2cfde8f79420f6deeffdeda9aaec3b6bc5abce947655d17ac662b126e48a60d \\
    --hash=sha256:f0b0622e567335c8fabaaa659f1b33bcb6ddfe2e496071b743aa113f8774f2d3
    # via -r requirements.in
"""
NAMESPACE = "image-delivery-test"
# The node's containerd as this machine reaches it (the single-node cluster of .ci/cluster/shared-kube.sh).
CONTAINERD_SOCKET = Path(os.environ.get("KUBE_HOME", "/var/tmp/kube-harness")) / "run" / "containerd.sock"
CONTAINERD = ["ctr", "--address", str(CONTAINERD_SOCKET), "-n", "k8s.io"]


@dataclass
class Delivery:
    target: Target
    kubeconfig: str
    options: BuildOptions
    folder: Path
    name: str


def _write_image(folder: Path, *entries: tuple[str, str]) -> Image:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "requirements.in").write_text("".join(f"{name}\n" for name, _ in entries))
    (folder / "requirements.lock").write_text("".join(lock for _, lock in entries))
    return Image(folder.name, folder)


def _kubectl(d: Delivery, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", "--kubeconfig", d.kubeconfig, *args], capture_output=True, text=True,
                          timeout=300, check=check)


def _layers(ref: str) -> list[str]:
    out = subprocess.run(["docker", "image", "inspect", "--format", "{{json .RootFS.Layers}}", ref],
                         capture_output=True, text=True, check=True).stdout
    return [layer for layer in out.strip().strip("[]").replace('"', "").split(",") if layer]


def _run_pod(d: Delivery, image: str, code: str) -> str:
    """A pod that runs `code` in `image` (pulled if the node lacks it) to completion; returns its log."""
    pod = f"p-{uuid.uuid4().hex[:8]}"
    _kubectl(d, "-n", NAMESPACE, "run", pod, f"--image={image}", "--restart=Never",
             "--image-pull-policy=IfNotPresent", "--command", "--", "python", "-c", code)
    deadline = time.monotonic() + 240
    phase = ""
    while time.monotonic() < deadline:
        phase = _kubectl(d, "-n", NAMESPACE, "get", "pod", pod, "-o", "jsonpath={.status.phase}").stdout
        if phase in ("Succeeded", "Failed"):
            break
        time.sleep(1)
    log = _kubectl(d, "-n", NAMESPACE, "logs", pod, check=False).stdout
    events = _kubectl(d, "-n", NAMESPACE, "get", "events", "--field-selector", f"involvedObject.name={pod}",
                      "-o", "custom-columns=R:.reason,M:.message", check=False).stdout
    assert phase == "Succeeded", f"pod {pod}: {phase}\n{log}\n{events}"
    return log


def _load(target: Target, ref: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        runner = Runner(out=out)
        loader_for(runner, target, provider_for(runner, target).cluster).load(ref)
    return out.getvalue()


@pytest.fixture(scope="module")
def delivery(k8s_cluster: object, base_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Delivery]:
    need(docker_available(), "a running Docker engine")
    target, _ = cluster_target()
    need(target.images.load == "registry" and bool(target.images.registry),
         f"target {target.name} delivers images through a registry (images.load: registry)")
    assert target.images.registry is not None
    need(registry_answers(target.images.registry), f"the registry {target.images.registry} answering")
    existing = target.existing
    assert existing is not None and existing.kubeconfig is not None
    d = Delivery(target, str(target.path(existing.kubeconfig)), BuildOptions(base_image=base_image),
                 tmp_path_factory.mktemp("images"), f"delivery-{uuid.uuid4().hex[:6]}")
    _forget_images(LEFTOVER)  # an interrupted run's
    _kubectl(d, "create", "namespace", NAMESPACE, check=False)
    yield d
    _kubectl(d, "delete", "namespace", NAMESPACE, "--wait=false", check=False)
    _forget_images(re.compile(re.escape(d.name)))
    shutil.rmtree(d.folder, ignore_errors=True)


# The images these tests make are named delivery-XXXXXX. Left on the node they pile up run after run, and the
# kubelet reports only the 50 largest images of a node (nodeStatusMaxImages): a small new one then never shows.
LEFTOVER = re.compile(r"(^|/)delivery-[0-9a-f]{6}[-:@]")


def _forget_images(names: re.Pattern[str]) -> None:
    """Remove the matching images from the node's containerd (with the `sha256:ID` name the CRI gives each image,
    and every such name left without an image name by earlier runs) and from Docker."""
    if CONTAINERD_SOCKET.exists() and shutil.which("ctr") is not None:
        listed = subprocess.run([*CONTAINERD, "images", "ls"], capture_output=True, text=True, timeout=120,
                                check=True).stdout.splitlines()[1:]
        digests = {line.split()[0]: line.split()[2] for line in listed if len(line.split()) > 2}
        doomed = {n for n in digests if names.search(n)}
        kept_ids = {_config_digest(d) for n, d in digests.items() if n not in doomed and not n.startswith("sha256:")}
        doomed |= {n for n in digests if n.startswith("sha256:") and n not in kept_ids}
        if doomed:
            subprocess.run([*CONTAINERD, "images", "rm", *sorted(doomed)], capture_output=True, timeout=300)
    listed_docker = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
                                   capture_output=True, text=True, timeout=120)
    in_docker = sorted(n for n in listed_docker.stdout.split() if names.search(n))
    if in_docker:
        subprocess.run(["docker", "rmi", "--force", *in_docker], capture_output=True, timeout=300)


def _config_digest(manifest: str) -> str:
    """The image ID (its config's digest) of a manifest, or of an index's first manifest, held by containerd."""
    got = subprocess.run([*CONTAINERD, "content", "get", manifest], capture_output=True, text=True, timeout=60)
    try:
        document = json.loads(got.stdout)
    except ValueError:
        return ""
    if document.get("manifests"):
        return _config_digest(document["manifests"][0]["digest"])
    return str((document.get("config") or {}).get("digest") or "")


def test_one_requirement_added_is_rebuilt_and_delivered_by_layers(delivery: Delivery) -> None:
    d = delivery
    first = _write_image(d.folder / d.name, ("six", SIX), ("idna", IDNA))
    ref1 = f"{d.name}:{first.tag(d.options)}"
    report1 = build(Runner(out=io.StringIO()), first, ref1, d.options)
    assert report1.layers == ["six", "idna"]
    pushed1 = _load(d.target, ref1)
    assert "layer(s) pushed" in pushed1, pushed1
    remote1 = f"{d.target.images.cluster_registry()}/{ref1}"
    assert _run_pod(d, remote1, "import six, idna; print('v1', six.__version__)").strip() == "v1 1.17.0"

    second = _write_image(d.folder / d.name, ("six", SIX), ("idna", IDNA), ("tabulate", TABULATE))
    ref2 = f"{d.name}:{second.tag(d.options)}"
    assert ref2 != ref1
    report2 = build(Runner(out=io.StringIO()), second, ref2, d.options)
    assert report2.layers == ["six", "idna", "tabulate"]
    old, new = _layers(ref1), _layers(ref2)
    # Everything up to the launcher is the first image's, layer for layer; then the new requirement's layer
    # and the launcher (copied again because its parent changed).
    assert new[:len(old) - 1] == old[:-1]
    assert len(new) == len(old) + 1
    pushed2 = _load(d.target, ref2)
    sent = re.search(r": (\d+) layer\(s\) pushed, (\d+) already in the registry", pushed2)
    assert sent, pushed2
    # At most the new requirement's layer and the launcher's travel (none when an earlier run of this test sent
    # the same content: the registry then has every blob); every layer of the first image is already there.
    assert int(sent.group(1)) <= 2 and int(sent.group(2)) >= len(old) - 1, pushed2
    assert int(sent.group(1)) + int(sent.group(2)) == len(new), pushed2
    remote2 = f"{d.target.images.cluster_registry()}/{ref2}"
    assert _run_pod(d, remote2, "import tabulate; print('v2', tabulate.__version__)").strip() == "v2 0.10.0"
    # The same load again: the registry has it, nothing is pushed.
    assert "already in the registry" in _load(d.target, ref2)


def test_registry_down_falls_back_to_copying_the_whole_image(delivery: Delivery,
                                                             tmp_path: Path) -> None:
    d = delivery
    assert d.target.images.fallback is not None, "the CI target names a fallback"
    # The same target with its registry on a port where nothing listens.
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(f"targets:\n  down:\n    extends: {d.target.name}\n"
                       f"    images: {{registry: '127.0.0.1:9', pull_registry: 'delivery.invalid:5000'}}\n")
    down = load_target("down", [str(overlay)])  # over the CI settings (AUTOMATION_SETTINGS)
    image = _write_image(d.folder / f"{d.name}-fallback", ("six", SIX))
    ref = f"{image.name}:{image.tag(d.options)}"
    build(Runner(out=io.StringIO()), image, ref, d.options)
    out = _load(down, ref)
    assert "warning: the image registry 127.0.0.1:9 does not answer: copying the whole image instead " \
           f"(images.fallback: {d.target.images.fallback})" in out, out
    # Under the name pods use (a registry that does not even resolve): present on the node, so never pulled.
    remote = f"delivery.invalid:5000/{ref}"
    assert _run_pod(d, remote, "import six; print('fallback', six.__version__)").strip() == "fallback 1.17.0"


def _containerd_names() -> set[str]:
    listed = subprocess.run([*CONTAINERD, "images", "ls", "-q"], capture_output=True, text=True, timeout=120,
                            check=True)
    return set(listed.stdout.split())


def _node_image_names(d: Delivery) -> set[str]:
    nodes = json.loads(_kubectl(d, "get", "nodes", "-o", "json").stdout)["items"]
    return {name for node in nodes
            for image in node["status"].get("images") or [] for name in image.get("names") or []}


def test_an_image_held_only_under_its_registry_name_is_still_copied(delivery: Delivery, tmp_path: Path) -> None:
    """After a registry delivery the node holds 127.0.0.1:5000/NAME:TAG; a pod naming NAME:TAG pulls
    docker.io/library/NAME:TAG, so a copy by `command` must not take the registry name for it."""
    d = delivery
    need(CONTAINERD_SOCKET.exists() and shutil.which("ctr") is not None,
         f"the node's containerd at {CONTAINERD_SOCKET} and ctr (a node this machine runs)")
    image = _write_image(d.folder / f"{d.name}-exact", ("six", SIX))
    ref = f"{image.name}:{image.tag(d.options)}"
    short = f"docker.io/library/{ref}"
    remote = f"{d.target.images.cluster_registry()}/{ref}"
    build(Runner(out=io.StringIO()), image, ref, d.options)
    try:
        # The registry name is imported, not pulled by a pod: the kubelet (1.35+, KubeletEnsureSecretPulledImages)
        # ties an image it pulled to the repository it pulled it from, and would then pull again for a pod
        # naming the same image otherwise. The image is new to the node (its name, hence its id, is this run's).
        subprocess.run(["docker", "tag", ref, remote], check=True, capture_output=True, timeout=120)
        imported = subprocess.run(["bash", "-o", "pipefail", "-c",
                                   f"docker save {remote} | {shlex.join(CONTAINERD)} images import -"],
                                  capture_output=True, text=True, timeout=600)
        assert imported.returncode == 0, imported.stdout + imported.stderr
        subprocess.run([*CONTAINERD, "images", "rm", short], capture_output=True, timeout=120)
        held = _containerd_names()
        assert remote in held and short not in held, held
        # The loader reads the nodes' images from the kubelet's report, which follows its next status update.
        wait_until(lambda: remote in _node_image_names(d), 120, f"the node to report {remote} in its images")
        assert short not in _node_image_names(d)

        overlay = tmp_path / "overlay.yaml"
        overlay.write_text(f"targets:\n  copy:\n    extends: {d.target.name}\n    images: {{load: command}}\n")
        copy = load_target("copy", [str(overlay)])  # the CI target's fallback command, as its load
        assert copy.images.command == d.target.images.command
        out = _load(copy, ref)
        assert "already on the cluster's nodes" not in out, out
        assert short in _containerd_names(), out
        assert _run_pod(d, ref, "import six; print('copied', six.__version__)").strip() == "copied 1.17.0"
    finally:
        subprocess.run([*CONTAINERD, "images", "rm", short, remote], capture_output=True, timeout=120)
        subprocess.run(["docker", "rmi", remote, ref], capture_output=True, timeout=120)


def test_build_report_names_each_phase(delivery: Delivery) -> None:
    d = delivery
    image = _write_image(d.folder / f"{d.name}-phases", ("idna", IDNA))
    ref = f"{image.name}:{image.tag(d.options)}"
    report: BuildReport = build(Runner(out=io.StringIO()), image, ref, d.options)
    assert list(report.phases) == ["resolve", "download", "install", "export"]
    assert report.line().startswith("phases: resolve ")
