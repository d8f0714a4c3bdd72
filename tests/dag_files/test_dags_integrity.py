"""The DAGs as Airflow loads them (the real DagBag), and the pods their tasks would create, built by the
provider's own code and validated against the Kubernetes schema: what runs on every target."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

DAGS = REPO / "dags"
# Before anything imports Airflow: a throw-away home, so ~/airflow is never created.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
                      f"sqlite:///{Path(os.environ['AIRFLOW_HOME']) / 'airflow.db'}")

EXPECTED = {"example1": "example1", "example_db": "example-db", "example_notebook": "example-notebook",
            "example_xcom": "example-xcom"}
K8S_VERSION = "1.36.0"
# Never contacted: the provider's hook only needs a kube config to say whether it runs in a cluster.
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
"""


def read_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


@pytest.fixture(scope="module")
def task_env(tmp_path_factory: pytest.TempPathFactory):
    """The local target's defaults (no AUTOMATION_* set), a dummy kube config, dags/ importable."""
    kubeconfig = tmp_path_factory.mktemp("kube") / "config"
    kubeconfig.write_text(KUBECONFIG)
    with pytest.MonkeyPatch.context() as mp:
        for name in [k for k in os.environ if k.startswith("AUTOMATION_")]:
            mp.delenv(name)
        mp.setenv("KUBECONFIG", str(kubeconfig))
        # The client reads KUBECONFIG once, at import: another test may have imported it before this one.
        mp.setattr("kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
        mp.syspath_prepend(str(DAGS))
        yield mp


@pytest.fixture(scope="module")
def dagbag(task_env):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS), safe_mode=True)  # LOAD_EXAMPLES=False above (3.3 has no include_examples)


def serialize(pod) -> dict:
    from kubernetes.client import ApiClient

    return ApiClient().sanitize_for_serialization(pod)


def validate(pod_dict: dict) -> None:
    import kubernetes_validate

    try:
        kubernetes_validate.validate(pod_dict, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"pod {pod_dict['metadata']['name']} is not a valid Kubernetes {K8S_VERSION} Pod: {exc}")


def test_no_import_errors_and_every_example_dag(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert set(EXPECTED) <= set(dagbag.dags)


def test_dag_conventions(dagbag) -> None:
    """What the e2e checker relies on: the project tag and the "output" param."""
    for dag_id, project in EXPECTED.items():
        dag = dagbag.dags[dag_id]
        assert f"project:{project}" in dag.tags, dag_id
        output = dag.params["output"]
        assert output and not output.startswith("/") and "://" not in output, (dag_id, output)
        assert not dag.timetable.can_be_scheduled, f"{dag_id}: expected schedule=None"
        assert dag.catchup is False
        assert dag.start_date is not None


def test_every_task_builds_a_valid_hardened_pod(dagbag) -> None:
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from common.utils.project_pod import ProjectPodOperator

    checked = 0
    for dag_id, dag in dagbag.dags.items():
        project = next(t.split(":", 1)[1] for t in dag.tags if t.startswith("project:"))
        secret_template = REPO / "k8s" / project / "secret.env.example"
        secret_values = set(read_env(secret_template).values()) if secret_template.is_file() else set()
        for task in dag.tasks:
            where = f"{dag_id}.{task.task_id}"
            assert isinstance(task, KubernetesPodOperator), f"{where}: every task must be a pod"
            pod = serialize(task.build_pod_request_obj())
            validate(pod)
            spec = pod["spec"]
            container = spec["containers"][0]
            volumes = {v["name"]: v for v in spec["volumes"]}
            mounts = {m["mountPath"]: m for m in container["volumeMounts"]}

            dags_mount = mounts["/opt/airflow/dags"]
            assert dags_mount.get("readOnly") is True, where
            dags_volume = volumes[dags_mount["name"]]["persistentVolumeClaim"]
            assert dags_volume == {"claimName": "airflow-dags", "readOnly": True}, where
            data_mount = mounts[f"/data/{project}"]
            assert data_mount["subPath"] == project and not data_mount.get("readOnly"), where
            assert volumes[data_mount["name"]]["persistentVolumeClaim"]["claimName"] == "airflow-data", where

            refs = [(k, v["name"], v.get("optional")) for e in container["envFrom"] for k, v in e.items()]
            assert ("configMapRef", project, True) in refs and ("secretRef", project, True) in refs, where
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            assert env["DATA_ROOT"] == f"/data/{project}" and env["PROJECT"] == project, where
            leaked = secret_values & {*env.values(), *container.get("args", [])}
            assert not leaked, f"{where}: a secret value is in plain env or args"
            # The image's launcher runs the script from the DAGs mount (the code root of local targets).
            assert container["command"][:4] == ["python", "/opt/automation/launch.py", "--code-root",
                                                "/opt/airflow/dags"], where
            script = DAGS / container["command"][4]
            assert script.is_file(), f"{where}: {script} does not exist"

            pod_ctx, ctx = spec["securityContext"], container["securityContext"]
            assert pod_ctx["runAsNonRoot"] is True and pod_ctx["runAsUser"] == 50000, where
            assert pod_ctx["runAsGroup"] == 0, where
            assert ctx["allowPrivilegeEscalation"] is False and ctx["capabilities"]["drop"] == ["ALL"], where
            assert container["imagePullPolicy"] == "IfNotPresent", where
            assert container["resources"]["requests"] and container["resources"]["limits"], where
            labels = pod["metadata"]["labels"]
            assert (labels["project"], labels["dag"], labels["task"]) == (project, dag_id, task.task_id), where
            assert pod["metadata"]["namespace"] == "airflow" and spec["serviceAccountName"] == "default", where
            assert task.on_finish_action.value == "delete_succeeded_pod", where
            # The operator that deletes a pod that never started, and logs a failed pod's events (project_pod.py).
            assert isinstance(task, ProjectPodOperator), where
            assert task.get_logs is True and task.log_events_on_failure is True, where
            checked += 1
    assert checked >= 6


def cloud_pod(target_name: str, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Both sides of the contract at once: the environment the automation package gives this target's
    Airflow (the writer), read by the DAG helpers when they build a task pod (the reader)."""
    from common.utils import project_task

    from automation.core.runner import Runner
    from automation.providers import provider_for
    from automation.providers.composer_pod_rules import build_pod
    from automation.settings import load_target

    for name, value in provider_for(Runner(), load_target(target_name)).task_env().items():
        monkeypatch.setenv(name, value)
    op = project_task("example1", "extract", "example1/scripts/extract.py", args=["--run-id", "x"],
                      resources={"limits": {"memory": "2Gi"}})
    # Offline: on Composer the operator's hook would read the kubeconfig file only Composer's workers have.
    pod = build_pod(op)
    validate(pod)
    return pod


def test_gke_task_pod_runs_as_workload_identity_with_gcsfuse(task_env, monkeypatch: pytest.MonkeyPatch) -> None:
    pod = cloud_pod("gke", monkeypatch)
    assert pod["spec"]["serviceAccountName"] == "airflow-tasks"
    assert pod["metadata"]["annotations"] == {"gke-gcsfuse/volumes": "true"}
    claims = {v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"]}
    assert claims == {"airflow-dags", "airflow-data"}
    container = pod["spec"]["containers"][0]
    tag = json.loads((DAGS / "common" / "images.json").read_text())["pandas-basic"]
    assert container["image"] == f"europe-west1-docker.pkg.dev/my-gcp-project/airflow/pandas-basic:{tag}"


def test_composer_task_pod_has_no_volume_and_fetches_its_code(task_env, monkeypatch: pytest.MonkeyPatch) -> None:
    pod = cloud_pod("composer", monkeypatch)
    from common.utils import project_task

    # ... and its worker starts it through Composer's kubeconfig file and connection, as Google's samples do.
    op = project_task("example1", "extract", "example1/scripts/extract.py")
    assert (op.config_file, op.kubernetes_conn_id) == ("/home/airflow/composer_kube_config", "kubernetes_default")
    container = pod["spec"]["containers"][0]
    assert not pod["spec"].get("volumes") and not container.get("volumeMounts")
    assert pod["metadata"]["namespace"] == "composer-user-workloads"
    assert container["command"][:4] == ["python", "/opt/automation/launch.py", "--code-root",
                                        "gs://europe-west1-airflow-00000000-bucket/dags"]
    assert {"name": "DATA_ROOT", "value": "gs://my-gcp-project-airflow-data/example1"} in container["env"]
    assert container["resources"]["limits"]["memory"] == "2Gi"
    assert container["resources"]["requests"]["memory"] == "256Mi"


def test_helper_rejects_bad_input(task_env) -> None:
    from common.utils import project_dag, project_task

    with pytest.raises(ValueError, match="unknown image"):
        project_task("example1", "t", "example1/scripts/extract.py", image="no-such-image")
    with pytest.raises(ValueError, match="relative to the DAGs folder"):
        project_task("example1", "t", "/etc/passwd")
    with pytest.raises(ValueError, match="relative to the project's data root"):
        project_dag("example1", "x", output="/abs/path.csv")


def test_helper_import_is_light() -> None:
    """The DAG processor imports it for every file: it must not pull Airflow or Kubernetes by itself."""
    code = ("import sys, common.utils; heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('airflow', 'kubernetes', 'pandas')); print(heavy); sys.exit(1 if heavy else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=DAGS, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_gate_passes_on_the_repository(task_env) -> None:
    from automation.core.runner import Runner
    from automation.dags import gate as dagcheck

    out = io.StringIO()
    report = dagcheck.gate(Runner(out=out), DAGS)
    assert sum(len(d) for d in report.dags.values()) >= 3
    text = out.getvalue()
    for name in ("example1/example1.py", "example_db/example_db.py", "example_notebook/example_notebook.py"):
        assert name in text, text


def test_gate_fails_on_import_error_cycle_and_slow_file(tmp_path: Path, task_env) -> None:
    from automation.core.errors import UserError
    from automation.core.runner import Runner
    from automation.dags import gate as dagcheck

    dag = ("from airflow.sdk import DAG\nfrom airflow.providers.standard.operators.empty import EmptyOperator\n"
           "{pre}\nwith DAG({dag_id!r}, schedule=None):\n    a = EmptyOperator(task_id='a')\n"
           "    b = EmptyOperator(task_id='b')\n    {deps}\n")
    (tmp_path / "good.py").write_text(dag.format(pre="", dag_id="good", deps="a >> b"))
    (tmp_path / "broken.py").write_text(dag.format(pre="import no_such_module_here", dag_id="broken", deps="a"))
    (tmp_path / "cycle.py").write_text(dag.format(pre="", dag_id="cycle", deps="a >> b >> a"))
    (tmp_path / "slow.py").write_text(dag.format(pre="import time; time.sleep(1.5)", dag_id="slow", deps="a"))
    report = dagcheck.parse(tmp_path)
    problems = dagcheck.check(report, max_seconds=1.0)
    assert any(p.startswith("broken.py:") and "no_such_module_here" in p for p in problems), problems
    assert any(p.startswith("cycle.py:") for p in problems), problems
    assert any(p.startswith("slow.py:") and "parsing took" in p for p in problems), problems
    assert not any(p.startswith("good.py:") for p in problems), problems
    with pytest.raises(UserError) as err:
        dagcheck.gate(Runner(out=io.StringIO()), tmp_path, max_seconds=1.0)
    assert "\n" not in err.value.line() and "DAG integrity" in err.value.line()


def test_cli_refuses_a_missing_folder_in_one_line() -> None:
    proc = run_cli("dags", "--dags-folder", "/nonexistent/dags", timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and " -- " in lines[0], proc.stderr
