"""The dag-processor's pre-import (helm/values.yaml `airflowLocalSettings`), both sides in one test: the script the
chart mounts, run as the dag-processor runs it, leaves nothing for the DAG helpers' module-level imports to load
but the helpers themselves (so a forked parse imports no library again); run as any other component, it imports
nothing; and the chart mounts it in the dag-processor of every cluster target."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import jmespath
import pytest

from tests.chart.helpers import render_chart
from tests.conftest import REPO

# Run in a fresh interpreter: the chart's script as airflow_local_settings.py is run (Airflow imports it at start,
# with the component's command in sys.argv), then the DAG helpers imported as a DAG file imports them.
PROBE = """
import json, sys
component, dags = sys.argv[1:]
sys.argv = ["airflow", component]
exec(compile(sys.stdin.read(), "airflow_local_settings.py", "exec"), {})
before = set(sys.modules)
sys.path.insert(0, dags)
import common.utils.project_pod, common.utils.xcom_pod
print(json.dumps({"preloaded": sorted(before), "loaded_by_helpers": sorted(set(sys.modules) - before)}))
"""


def local_settings(docs: list[dict[str, Any]]) -> str:
    (config,) = jmespath.search("[?kind=='ConfigMap' && metadata.name=='airflow-config']", docs)
    return str(config["data"]["airflow_local_settings.py"])


def run_as(component: str, script: str) -> dict[str, list[str]]:
    result = subprocess.run([sys.executable, "-c", PROBE, component, str(REPO / "dags")], input=script,
                            capture_output=True, text=True, timeout=300, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def script() -> str:
    return local_settings(render_chart({}, target="local"))


def test_in_the_dag_processor_the_helpers_load_no_library_of_their_own(script: str) -> None:
    found = run_as("dag-processor", script)
    assert "airflow.providers.cncf.kubernetes.operators.pod" in found["preloaded"]
    assert "kubernetes.client" in found["preloaded"]
    # What a parse still imports in its fork: the DAG folder's own code only, which stays fresh for each parse.
    libraries = [m for m in found["loaded_by_helpers"] if m.split(".")[0] != "common"]
    assert libraries == []


def test_every_other_component_imports_nothing(script: str) -> None:
    for component in ("scheduler", "api-server", "triggerer", "celery", "tasks"):
        found = run_as(component, script)
        assert not any(m.startswith(("kubernetes", "airflow")) for m in found["preloaded"]), component


@pytest.mark.parametrize("target", ["local", "existing", "gke", "composer-rehearsal"])
def test_the_chart_mounts_it_in_the_dag_processor(target: str) -> None:
    docs = render_chart({}, target=target)
    assert local_settings(docs) == local_settings(render_chart({}, target="local"))
    (processor,) = jmespath.search("[?kind=='Deployment' && metadata.labels.component=='dag-processor']", docs)
    (container,) = jmespath.search("spec.template.spec.containers[?name=='dag-processor']", processor)
    mounts = {m["subPath"]: m["mountPath"] for m in container["volumeMounts"] if m.get("subPath")}
    assert mounts["airflow_local_settings.py"] == "/opt/airflow/config/airflow_local_settings.py"
    assert container["args"] == ["bash", "-c", "exec airflow dag-processor"]
