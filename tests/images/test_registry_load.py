"""`images.load: registry` against a real registry (Debian's docker-registry, started on a free port): only
what the registry lacks is pushed, a second load pushes nothing, and an unreachable registry either falls back
or is one clear line."""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.images.delivery import loader_for
from automation.images.registry_api import manifest_exists, push_counts, registry_answers
from automation.settings import load_target
from automation.settings.model import Target
from tests.conftest import need
from tests.images.test_load import tiny_image  # noqa: F401  (a fixture)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("docker-registry")
    need(binary is not None, "Debian's docker-registry (apt-get install docker-registry)")
    assert binary is not None
    root = tmp_path_factory.mktemp("registry")
    address = f"127.0.0.1:{_free_port()}"
    config = root / "config.yml"
    config.write_text(f"version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {root}/data}}}}\n"
                      f"http: {{addr: {address}}}\n")
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not registry_answers(address):
            assert time.monotonic() < deadline, "the registry did not start"
            time.sleep(0.2)
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _target(tmp_path: Path, images: str) -> Target:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(f"targets:\n  reg:\n    extends: existing\n"
                       f"    existing: {{kubeconfig: {tmp_path / 'no-kubeconfig'}}}\n    images: {{{images}}}\n")
    return load_target("reg", [str(overlay)])


def _load(target: Target, ref: str) -> str:
    out = io.StringIO()
    loader_for(Runner(out=out), target, None).load(ref)
    return out.getvalue()


def test_push_sends_what_is_missing_then_nothing(registry: str, tiny_image: str,  # noqa: F811
                                                 tmp_path: Path) -> None:
    target = _target(tmp_path, f"load: registry, registry: '{registry}', pull_registry: 'localhost:5000'")
    remote = f"{registry}/{tiny_image}"
    assert not manifest_exists(remote)
    first = _load(target, tiny_image)
    assert f"ok: {remote}: 1 layer(s) pushed, 0 already in the registry" in first, first
    assert manifest_exists(remote)
    assert not manifest_exists(f"{remote}-other")
    assert f"ok: {remote}: already in the registry" in _load(target, tiny_image)
    # Pods name the registry as the nodes reach it.
    pulled = loader_for(Runner(out=io.StringIO()), target, None).ref_in_cluster(tiny_image)
    assert pulled == f"localhost:5000/{tiny_image}"
    subprocess.run(["docker", "rmi", remote], capture_output=True)


def test_unreachable_registry_without_fallback_is_one_line(tiny_image: str, tmp_path: Path) -> None:  # noqa: F811
    target = _target(tmp_path, "load: registry, registry: '127.0.0.1:9'")
    with pytest.raises(UserError) as err:
        _load(target, tiny_image)
    assert err.value.problem == "the image registry 127.0.0.1:9 does not answer"
    assert "images.fallback" in (err.value.fix or "")


def test_push_counts_reads_dockers_report_per_layer() -> None:
    output = ("The push refers to repository [127.0.0.1:5000/x]\n5f70bf18a086: Preparing\n"
              "a1: Pushed\nb2: Layer already exists\nc3: Mounted from library/pandas-basic\n"
              "abc: digest: sha256:00 size: 1234\n")
    assert push_counts(output) == (1, 2)


@pytest.mark.parametrize("target_name", ["gke", "composer"])
def test_on_google_cloud_the_push_and_the_name_pods_pull_are_one_artifact_registry_path(
        target_name: str, tmp_path: Path) -> None:
    """Without images.registry, a gke/composer target pushes to its Artifact Registry repository, and its task
    pods name the same place (one default, read by both sides)."""
    from automation.providers import provider_for

    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"targets": {target_name: {
        target_name: {"project": "other-project", "region": "asia-east1", "artifact_repository": "team"},
        "images": {"load": "registry", "registry": None}}}}))
    target = load_target(target_name, [str(overlay)])
    runner = Runner(dry_run=True, out=io.StringIO())
    repository = "asia-east1-docker.pkg.dev/other-project/team"
    pushed = loader_for(runner, target, None)
    assert pushed.ref_in_cluster("pandas-basic:1") == f"{repository}/pandas-basic:1"
    assert provider_for(runner, target).task_pod_facts().image_registry == repository
    pushed.load("pandas-basic:1")
    plan = [line.split("$ ", 1)[1] for line in runner.out.getvalue().splitlines()  # type: ignore[attr-defined]
            if "[dry-run] $ " in line]
    assert plan == ["gcloud auth configure-docker asia-east1-docker.pkg.dev --quiet",
                    f"docker tag pandas-basic:1 {repository}/pandas-basic:1",
                    f"docker push {repository}/pandas-basic:1"]
