"""CI drift guards: the GitHub workflow's `local` job and `.ci/run` run one script, `.ci/steps.sh`, with
only the cluster differing, and the workflow downloads no tool without a checksum."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from automation.settings import load_target
from tests.conftest import REPO, need, nox_sessions

WORKFLOW = REPO / ".github/workflows/ci.yml"
CLUSTER_HOOKS = ("cluster_tools()", "cluster_start()", "cluster_airflow_image()", "cluster_tools_title=",
                 "cluster_start_title=", "cluster_registry()", "cluster_registry_title=", "CI_SETTINGS=",
                 "CI_CHART_DIR=", "CI_HOST_FROM_PODS=", "AUTOMATION_TEST_APISERVER_STOP=",
                 "AUTOMATION_TEST_APISERVER_START=")


def jobs() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]


def test_the_local_job_is_the_shared_script_with_minikube() -> None:
    runs = [step["run"] for step in jobs()["local"]["steps"] if "run" in step and "if" not in step]
    assert runs == ["bash .ci/steps.sh minikube"], "every step of the local job belongs in .ci/steps.sh"


def test_ci_run_is_the_shared_script_with_this_machines_cluster() -> None:
    assert 'exec bash "$(dirname "$0")/steps.sh" shared-kube' in (REPO / ".ci/run").read_text()


def test_every_cluster_defines_what_the_script_uses() -> None:
    clusters = sorted((REPO / ".ci/cluster").glob("*.sh"))
    assert [c.stem for c in clusters] == ["minikube", "shared-kube"]
    for cluster in clusters:
        text = cluster.read_text()
        for hook in CLUSTER_HOOKS:
            assert hook in text, f"{cluster.name} lacks {hook}"


def test_the_script_refuses_an_unknown_cluster_with_one_line() -> None:
    result = subprocess.run(["bash", ".ci/steps.sh", "kind"], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: name the cluster: bash .ci/steps.sh CLUSTER, CLUSTER one of: "
                                     "minikube shared-kube")


def test_no_tool_is_downloaded_unchecked() -> None:
    text = WORKFLOW.read_text()
    assert not re.search(r"curl[^\n]*(minikube|dl\.k8s\.io|get\.helm\.sh)", text)
    assert "python -m automation tools" in text


def test_minikube_fits_a_github_runner_and_the_test_target_is_its_cluster(monkeypatch) -> None:
    monkeypatch.setenv("AUTOMATION_SETTINGS", str(REPO / ".ci/minikube.yaml"))
    local = load_target("local")
    assert local.minikube is not None
    assert local.minikube.cpus <= 4 and local.minikube.memory_mb <= 12 * 1024  # 4 CPUs, 16 GB
    ci = load_target("ci")
    assert ci.provider == "existing" and ci.existing is not None
    assert ci.existing.context == local.minikube.profile
    assert ci.mounts is not None and local.mounts is not None
    assert (ci.mounts.dags.node, ci.mounts.data.node) == (local.mounts.dags.node, local.mounts.data.node)
    assert load_target("ci-rehearsal").provider == "composer-rehearsal"


def test_every_path_and_session_a_workflow_or_ci_script_names_exists() -> None:
    """A workflow step naming a test file that moved makes pytest exit 4 and skips everything after it."""
    sessions = nox_sessions()
    assert {"up", "tests", "lint", "lock"} <= sessions
    texts = {path: path.read_text() for path in [*(REPO / ".github/workflows").glob("*.yml"), *(REPO / ".ci").iterdir()]
             if path.is_file()}
    for path, text in texts.items():
        # Test files and folders (pytest exits 4 on either missing), and files of .ci/ (settings overlays too).
        for named in re.findall(r"(?<![\w/])(?:tests|\.ci)/[A-Za-z0-9_/.-]*[A-Za-z0-9_]", text):
            placeholder = re.search(r"\b[A-Z]{2,}\b", named)  # .ci/cluster/CLUSTER.sh in a usage line
            assert placeholder or (REPO / named).exists(), f"{path.name} names {named}, which does not exist"
        for named in re.findall(r"\bnox -s ([a-z][a-z0-9-]*)", text):
            assert named in sessions, f"{path.name} runs `nox -s {named}`, which noxfile.py does not define"
        for named in re.findall(r"\bbash (\.ci/[A-Za-z0-9_./-]+)", text):
            assert (REPO / named).is_file(), f"{path.name} runs {named}, which does not exist"


# Every script of .ci/ that changes the machine, with arguments that would make it do so.
MACHINE_CHANGING = (("steps.sh", "minikube"), ("postgres.sh", "--reset"), ("registry.sh",), ("user-sessions.sh",),
                    ("shared-kube-up.sh", "/nonexistent"), ("shared-kube-apiserver.sh", "stop", "/nonexistent"))
# What those scripts would call first: each records its call instead, so that a test sees whether any ran.
FAKED = ("sudo", "su", "apt-get", "python3", "pip", "nox", "pg_lsclusters", "pg_ctlcluster", "psql", "dropdb",
         "createdb", "dockerd", "docker", "iptables", "curl", "kubectl", "minikube", "pkill", "kill", "setsid")


def fake_path(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    for name in FAKED:
        (bin_dir / name).write_text(f'#!/bin/sh\necho "{name} $*" >> {calls}\nexit 1\n')
        (bin_dir / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS")}
    return {**env, "PATH": f"{bin_dir}:{os.environ['PATH']}"}, calls


def ci_copy(tmp_path: Path) -> Path:
    """.ci/ alone in a folder of its own: its scripts find their repository as the folder above them."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / ".ci", root / ".ci")
    return root


@pytest.mark.parametrize("script", MACHINE_CHANGING, ids=lambda s: s[0])
def test_a_machine_changing_script_refuses_outside_ci_and_does_nothing(tmp_path: Path, script: tuple[str, ...]) -> None:
    env, calls = fake_path(tmp_path)
    root = ci_copy(tmp_path)
    result = subprocess.run(["bash", f".ci/{script[0]}", *script[1:]], cwd=root, capture_output=True, text=True,
                            timeout=30, env=env)
    assert result.returncode == 2
    assert result.stdout == "" and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: .ci/{script[0]} changes this machine (")
    assert "runs only where CI=true -- to run it here anyway: " in result.stderr
    assert not calls.exists(), calls.read_text()
    assert not (root / ".state").exists()


def test_steps_says_how_to_ask_and_runs_when_asked(tmp_path: Path) -> None:
    env, calls = fake_path(tmp_path)
    root = ci_copy(tmp_path)
    refused = subprocess.run(["bash", ".ci/steps.sh", "minikube"], cwd=root, capture_output=True, text=True,
                             timeout=30, env=env)
    assert refused.stderr.rstrip().endswith("bash .ci/steps.sh minikube --change-this-machine")
    asked = subprocess.run(["bash", ".ci/steps.sh", "minikube", "--change-this-machine"], cwd=root,
                           capture_output=True, text=True, timeout=60, env=env)
    # Past the guard: its first step ran (and the fakes then stop it).
    assert "== [ci 0s] python tools (nox, uv)" in asked.stdout
    assert calls.read_text().startswith("python3 -m pip install")
    bad = subprocess.run(["bash", ".ci/steps.sh", "minikube", "--yes"], cwd=root, capture_output=True, text=True,
                         timeout=30, env=env)
    assert bad.returncode == 2 and bad.stderr == "error: unknown option --yes: the only one is --change-this-machine\n"


def test_ci_run_is_a_ci_run() -> None:
    text = (REPO / ".ci/run").read_text()
    assert text.index("export CI=true") < text.index("exec bash")


def test_only_what_this_clones_runs_started_is_stopped(tmp_path: Path) -> None:
    root = ci_copy(tmp_path)
    (root / ".state" / "ci").mkdir(parents=True)
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    recorded = subprocess.Popen([*sleeper, "registry-forward"])
    same_name = subprocess.Popen([*sleeper, "registry-forward"])  # another clone's, or a developer's own
    reused = subprocess.Popen([*sleeper, "something-else"])  # a recorded pid the system gave to another process
    forward = subprocess.Popen([*sleeper, "-m", "automation.k8s.forward_loop", "port-forward"],
                               start_new_session=True)  # as Background.start runs a forward loop
    other_forward = subprocess.Popen([*sleeper, "-m", "automation.k8s.forward_loop"], start_new_session=True)
    try:
        records = f"{recorded.pid} registry-forward\n{reused.pid} registry-forward\n"
        (root / ".state" / "ci-run.pids").write_text(records)
        pid_file = f"{forward.pid} {sys.executable} -m automation.k8s.forward_loop port-forward\n"  # Background's
        (root / ".state" / "ci" / "ui.pid").write_text(pid_file)
        stopped = subprocess.run(["bash", "-c", "source .ci/guard.sh && ci_stop_leftovers"], cwd=root,
                                 capture_output=True, text=True, timeout=30, check=True)
        assert recorded.wait(timeout=10) == -signal.SIGTERM
        assert forward.wait(timeout=10) == -signal.SIGTERM
        for alive in (same_name, reused, other_forward):
            assert alive.poll() is None
        assert f"stopped pid {recorded.pid} (registry-forward)" in stopped.stdout
        assert str(reused.pid) not in stopped.stdout
        assert not (root / ".state" / "ci-run.pids").exists()
    finally:
        for process in (recorded, same_name, reused, forward, other_forward):
            process.kill()
            process.wait()


def test_every_ci_script_is_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck") or shutil.which("shellcheck", path=os.path.dirname(sys.executable))
    need(shellcheck is not None, "shellcheck (the lint group)")
    scripts = [str(p) for p in [*(REPO / ".ci").rglob("*.sh"), REPO / ".ci/run"]]
    checked = subprocess.run([str(shellcheck), "--external-sources", *scripts], cwd=REPO, capture_output=True,
                             text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout
