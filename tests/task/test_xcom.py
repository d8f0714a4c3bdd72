"""A task's XCom, both sides of the contract at once: the pod project_task(xcom=True) builds (the provider's
sidecar, running the task's image, reading contract.XCOM_RETURN_FILE), the script that writes the file, `task`
reading it where the sidecar would, and the next task's `ti.xcom_pull` template rendered from it."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from automation.core.errors import UserError
from automation.settings import load_target
from automation.settings.contract import XCOM_DIR, XCOM_RETURN_ENV, XCOM_RETURN_FILE, XCOM_SIDECAR
from automation.task import xcom
from automation.task.docker_run import Folders, translate
from tests.conftest import REPO, need

DAGS = REPO / "dags"
READINGS = REPO / "data" / "example-xcom" / "input" / "readings.csv"


@pytest.fixture
def local_xcoms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    need(importlib.util.find_spec("airflow") is not None, "Airflow installed (the tests session installs it)")
    monkeypatch.setattr(xcom, "STORE", tmp_path / "task-xcom")
    for name in [k for k in os.environ if k.startswith("AUTOMATION_")]:
        monkeypatch.delenv(name)
    return tmp_path


def expected_summary() -> dict[str, dict[str, float]]:
    """Computed here, not by the script: per sensor, count, total and mean of its readings."""
    sensors: dict[str, list[float]] = {}
    with READINGS.open(newline="") as f:
        for row in csv.DictReader(f):
            sensors.setdefault(row["sensor"], []).append(float(row["reading"]))
    return {s: {"count": len(v), "total": round(sum(v), 3), "mean": round(sum(v) / len(v), 3)}
            for s, v in sensors.items()}


def pod_of(task_id: str) -> dict[str, Any]:
    from automation.task.pod import load_task, render_pod

    dag, task = load_task(DAGS, "example_xcom", task_id)
    pod, _ = render_pod(dag, task, load_target("local"), run_id="manual__xcom")
    return pod


def run_script(command: list[str], env: dict[str, str], data: Path) -> None:
    """The container's command as a local process: the launcher's script with the pod's environment."""
    script = command[command.index("--code-root") + 2]
    proc = subprocess.run([sys.executable, str(DAGS / script), *command[command.index(script) + 1:]],
                          env={**os.environ, **env, "DATA_ROOT": str(data)}, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_xcom_written_by_the_task_is_what_task_reads_and_the_next_task_gets(local_xcoms: Path) -> None:
    from airflow.providers.cncf.kubernetes.utils.xcom_sidecar import PodDefaults

    # The sidecar reads the folder the contract names, and runs the task's own image (the node has it).
    assert PodDefaults.XCOM_MOUNT_PATH == XCOM_DIR == str(PurePosixPath(XCOM_RETURN_FILE).parent)
    pod = pod_of("summarize")
    base, *sidecars = pod["spec"]["containers"]
    assert [c["name"] for c in sidecars] == [XCOM_SIDECAR]
    assert sidecars[0]["image"] == base["image"] and sidecars[0]["imagePullPolicy"] == "IfNotPresent"
    assert sidecars[0]["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"name": XCOM_RETURN_ENV, "value": XCOM_RETURN_FILE} in base["env"]

    # `task` binds a folder of this machine where the sidecar's emptyDir is, and the script writes into it.
    data = local_xcoms / "data"
    (data / "input").mkdir(parents=True)
    (data / "input" / "readings.csv").write_bytes(READINGS.read_bytes())
    run = translate(pod, load_target("local"), Folders(dags=DAGS, data=data))
    assert run.xcom_dir == XCOM_DIR and not any(XCOM_DIR in m for m in run.mounts)
    host_folder = local_xcoms / "bound-xcom"
    host_folder.mkdir()
    inside = PurePosixPath(run.env[XCOM_RETURN_ENV]).relative_to(run.xcom_dir)
    run_script([run.entrypoint or "", *run.args], {**run.env, XCOM_RETURN_ENV: str(host_folder / inside)}, data)
    found, value = xcom.read_return(host_folder, "example_xcom.summarize")
    assert found and value == expected_summary()

    # Kept by `task`, it renders the next task's `ti.xcom_pull` argument as the cluster would: JSON.
    xcom.store("example_xcom", "summarize", found, value)
    report = pod_of("report")
    assert len(report["spec"]["containers"]) == 1  # no XCom of its own, no sidecar
    args = report["spec"]["containers"][0]["args"]
    assert json.loads(args[args.index("--summary") + 1]) == value
    run_script(report["spec"]["containers"][0]["command"] + args, {}, data)
    written = json.loads((data / "output" / "report.json").read_text())
    assert written["summary"] == value and written["readings"] == sum(s["count"] for s in value.values())
    assert written["run_id"] == "manual__xcom"


def test_next_task_without_a_local_xcom_says_what_to_run(local_xcoms: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UserError) as err:
        pod_of("report")
    line = err.value.line()
    assert "no local XCom of example_xcom.summarize" in line and "nox -s task -- example_xcom summarize" in line
    assert "\n" not in line
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err  # Airflow's own log of the failed template is silenced


def test_no_file_empty_file_and_bad_json(tmp_path: Path) -> None:
    assert xcom.read_return(tmp_path, "d.t") == (False, None)
    (tmp_path / "return.json").write_text("  \n")
    assert xcom.read_return(tmp_path, "d.t") == (False, None)  # the provider's rule: empty is no XCom
    (tmp_path / "return.json").write_text("{'single': 'quotes'}")
    with pytest.raises(UserError, match=r"task d\.t wrote /airflow/xcom/return\.json that is not JSON"):
        xcom.read_return(tmp_path, "d.t")
