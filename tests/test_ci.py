"""CI drift guards: the GitHub workflow's `local` job and `.ci/run` run one script, `.ci/steps.sh`, with
only the cluster differing, and the workflow downloads no tool without a checksum."""

from __future__ import annotations

import re
import shutil
import subprocess

import yaml

from automation.settings import load_target
from tests.conftest import REPO, need

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
    need(shutil.which("nox") is not None, "nox (the README's requirement)")
    listed = subprocess.run(["nox", "-l"], cwd=REPO, capture_output=True, text=True, check=True, timeout=120)
    # "* NAME -> doc" for the default selection, "- NAME -> doc" for the others.
    sessions = set(re.findall(r"^[*-] (\S+) ->", listed.stdout, re.M))
    assert {"up", "tests", "lint", "lock"} <= sessions
    texts = {path: path.read_text() for path in [*(REPO / ".github/workflows").glob("*.yml"), *(REPO / ".ci").iterdir()]
             if path.is_file()}
    for path, text in texts.items():
        for named in re.findall(r"\btests/[A-Za-z0-9_/.-]+\.py\b", text):
            assert (REPO / named).is_file(), f"{path.name} names {named}, which does not exist"
        for named in re.findall(r"\bnox -s ([a-z][a-z0-9-]*)", text):
            assert named in sessions, f"{path.name} runs `nox -s {named}`, which noxfile.py does not define"
        for named in re.findall(r"\bbash (\.ci/[A-Za-z0-9_./-]+)", text):
            assert (REPO / named).is_file(), f"{path.name} runs {named}, which does not exist"
