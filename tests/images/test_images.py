"""Worker images and the `task` inner loop, for real: debootstrap base, docker build, docker run.

No image can be pulled here, so the base is made locally (debootstrap + docker import) and cached by tag.
"""

from __future__ import annotations

import csv
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from automation.images.build import BuildOptions, discover
from automation.images.buildkit import SHOWN_SUFFIX
from tests.conftest import HOST_CA, REPO, need, run_cli

BUILT = ("notebook", "pandas-basic")


def _ca_args() -> list[str]:
    return ["--ca-bundle", str(HOST_CA)] if HOST_CA.is_file() else []


def _tag(name: str, base: str | None) -> str:
    return discover()[name].tag(BuildOptions(base_image=base))


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture(scope="session")
def built(base_image: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Both CI images built through the CLI, then the same command again."""
    tags_file = tmp_path_factory.mktemp("tags") / "images.json"
    args = ["images", "--build-only", "--base-image", base_image, *_ca_args(), "--tags-file", str(tags_file)]
    first = run_cli(*args, timeout=3600)
    assert first.returncode == 0, first.stdout + first.stderr
    second = run_cli(*args)
    return {"first": first, "second": second, "tags": json.loads(tags_file.read_text()), "tags_file": tags_file}


@pytest.mark.docker
def test_build_writes_content_addressed_tags(built: dict[str, object], base_image: str) -> None:
    tags = built["tags"]
    assert tags == {name: _tag(name, base_image) for name in BUILT}
    assert list(tags) == sorted(tags)  # type: ignore[arg-type]


@pytest.mark.docker
def test_unchanged_rebuild_builds_nothing(built: dict[str, object]) -> None:
    second = built["second"]
    assert second.returncode == 0, second.stderr  # type: ignore[attr-defined]
    out = second.stdout  # type: ignore[attr-defined]
    assert "built 0, unchanged 2" in out
    assert "docker build" not in out
    assert "is up to date (inputs unchanged): no build" in out


@pytest.mark.docker
def test_images_run_as_50000_with_their_packages(built: dict[str, object]) -> None:
    tags = built["tags"]
    checks = {
        "pandas-basic": "import pandas, fsspec, gcsfs, upath, sqlalchemy, psycopg; import os; "
                        "print(os.getuid(), os.getgid(), psycopg.__version__[0])",
        "notebook": "import papermill, ipykernel, pandas, upath, gcsfs; import os; print(os.getuid(), os.getgid(), 3)",
    }
    for name, code in checks.items():
        out = subprocess.run(["docker", "run", "--rm", f"{name}:{tags[name]}", "python", "-c", code],  # type: ignore[index]
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["50000", "0", "3"]
        # The build-time CA bundle and the installer stay in the build stage.
        leftovers = subprocess.run(["docker", "run", "--rm", f"{name}:{tags[name]}", "sh", "-c",  # type: ignore[index]
                                    "ls /opt/uv /tmp/build /tmp/ca.pem 2>/dev/null; ls /opt/venv/bin/uv 2>/dev/null"],
                                   capture_output=True, text=True)
        assert leftovers.stdout.strip() == ""


# -- dry-run plans: exact commands, no Docker needed ----------------------------------------------------------
def _overlay(tmp_path: Path, body: str) -> Path:
    return _write(tmp_path / "overlay.yaml", body)


def _plan(out: str) -> list[str]:
    return [line.split("$ ", 1)[1] for line in out.splitlines() if "[dry-run] $ " in line]


def test_dry_run_registry_push_plan(tmp_path: Path) -> None:
    overlay = _overlay(tmp_path, """
        targets:
          cloudlike:
            extends: existing
            images: {load: registry, registry: europe-west1-docker.pkg.dev/my-project/airflow}
    """)
    base = "example.invalid/never-built:1"
    tag = _tag("pandas-basic", base)
    result = run_cli("images", "--dry-run", "--target", "cloudlike", "--settings", str(overlay), "--only",
                     "pandas-basic", "--base-image", base, "--tags-file", str(tmp_path / "images.json"))
    assert result.returncode == 0, result.stderr
    remote = f"europe-west1-docker.pkg.dev/my-project/airflow/pandas-basic:{tag}"
    assert _plan(result.stdout) == [
        f"docker build --tag pandas-basic:{tag} --label airflow-automation.image=pandas-basic images/pandas-basic"
        f"  {SHOWN_SUFFIX}",
        "gcloud auth configure-docker europe-west1-docker.pkg.dev --quiet",
        f"docker tag pandas-basic:{tag} {remote}",
        f"docker push {remote}",
    ]
    assert f"[dry-run] render the Dockerfile: base {base}, uv " in result.stdout
    assert not (tmp_path / "images.json").exists()  # a dry run writes nothing


def test_dry_run_minikube_and_command_plans(tmp_path: Path) -> None:
    base = "example.invalid/never-built:1"
    tags = {name: _tag(name, base) for name in BUILT}
    local = run_cli("images", "--dry-run", "--base-image", base, "--tags-file", str(tmp_path / "x.json"))
    assert local.returncode == 0, local.stderr
    loads = [c for c in _plan(local.stdout) if not c.startswith("docker build")]
    assert loads == [f"minikube image load {name}:{tags[name]} -p airflow" for name in BUILT]
    assert "would build 2" in local.stdout

    overlay = _overlay(tmp_path, """
        targets:
          pipe:
            extends: existing
            images: {load: command, command: "docker save {image} | ctr -n k8s.io images import -"}
    """)
    piped = run_cli("images", "--dry-run", "--target", "pipe", "--settings", str(overlay), "--only", "notebook",
                    "--base-image", base, "--tags-file", str(tmp_path / "x.json"))
    assert piped.returncode == 0, piped.stderr
    assert _plan(piped.stdout)[-1] == (f"bash -o pipefail -c 'docker save notebook:{tags['notebook']} "
                                       "| ctr -n k8s.io images import -'")


def test_unknown_image_is_one_line(tmp_path: Path) -> None:
    result = run_cli("images", "--dry-run", "--only", "nope")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "no image named 'nope'" in result.stderr and "pandas-basic" in result.stderr


# -- `task`: the provider's pod, run with docker run ---------------------------------------------------------
POD_DAG = '''
from datetime import datetime

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import DAG
from kubernetes.client import models as k8s

IMAGE = "{image}"
volumes = [
    k8s.V1Volume(name="dags", persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(
        claim_name="airflow-dags", read_only=True)),
    k8s.V1Volume(name="data", persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(
        claim_name="airflow-data")),
]
mounts = [
    k8s.V1VolumeMount(name="dags", mount_path="/opt/airflow/dags", read_only=True),
    k8s.V1VolumeMount(name="data", mount_path="/data/example1", sub_path="example1"),
]
common = dict(
    image=IMAGE, volumes=volumes, volume_mounts=mounts,
    env_from=[k8s.V1EnvFromSource(config_map_ref=k8s.V1ConfigMapEnvSource(name="example1")),
              k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name="example1"))],
    env_vars={{"DATA_ROOT": "/data"}},
    security_context=k8s.V1PodSecurityContext(run_as_user=50000, run_as_group=0),
)

with DAG("podtest", start_date=datetime(2024, 1, 1), schedule=None):
    KubernetesPodOperator(task_id="summarize", name="summarize",
                          cmds=["python", "/opt/airflow/dags/podtest/summarize.py"],
                          arguments=["{{{{ params.label }}}}"], params={{"label": "total"}}, **common)
    KubernetesPodOperator(task_id="fail", name="fail", cmds=["sh", "-c", "echo failing; exit 3"], **common)
    KubernetesPodOperator(task_id="sleep", name="sleep", cmds=["sh", "-c", "echo started; exec sleep 300"],
                          **common)
    KubernetesPodOperator(task_id="init", name="init", init_containers=[
        k8s.V1Container(name="prep", image=IMAGE, command=["true"])], cmds=["true"], **common)
'''

SUMMARIZE = '''
import os, sys
from pathlib import Path
import pandas as pd

root = Path(os.environ["DATA_ROOT"]) / "example1"
df = pd.read_csv(root / os.environ["INPUT_FILE"])
out = root / os.environ["OUTPUT_FILE"]
out.parent.mkdir(parents=True, exist_ok=True)
pd.DataFrame({"label": [sys.argv[1]], "amount": [df["amount"].sum()]}).to_csv(out, index=False)
print("token is", os.environ["API_TOKEN"], "uid", os.getuid(), "level", os.environ["LOG_LEVEL"])
'''


@pytest.fixture
def pod_project(tmp_path: Path, built: dict[str, object]) -> dict[str, Path]:
    tags = built["tags"]
    dags = tmp_path / "dags"
    _write(dags / "podtest_dag.py", POD_DAG.format(image=f"pandas-basic:{tags['pandas-basic']}"))  # type: ignore[index]
    _write(dags / "podtest" / "summarize.py", SUMMARIZE)
    data = tmp_path / "data"
    _write(data / "example1" / "input" / "sales.csv", "region,amount\nnorth,10\nsouth,32\n")
    os.chmod(data / "example1", 0o777)
    projects = tmp_path / "k8s"
    _write(projects / "example1" / "config.env", "INPUT_FILE=input/sales.csv\nOUTPUT_FILE=output/sum.csv\n"
                                                 "LOG_LEVEL=DEBUG\n")
    _write(projects / "example1" / "secret.env", "API_TOKEN=s3cr3t-value-for-test\n")
    overlay = _write(tmp_path / "overlay.yaml", f"""
        targets:
          local:
            projects_dir: {projects}
    """)
    return {"dags": dags, "data": data, "overlay": overlay}


def _task(project: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("task", *args, "--settings", str(project["overlay"]), "--dags-dir", str(project["dags"]),
                   "--data-dir", str(project["data"]))


@pytest.mark.docker
def test_task_runs_the_pod_in_docker(pod_project: dict[str, Path]) -> None:
    result = _task(pod_project, "podtest", "summarize")
    assert result.returncode == 0, result.stdout + result.stderr
    out = pod_project["data"] / "example1" / "output" / "sum.csv"
    assert out.read_text().splitlines() == ["label,amount", "total,42"]
    assert "token is ****** uid 50000 level DEBUG" in result.stdout
    assert "s3cr3t-value-for-test" not in result.stdout + result.stderr
    assert "--user 50000:0" in result.stdout and "--env API_TOKEN " in result.stdout
    assert ",destination=/opt/airflow/dags,readonly" in result.stdout
    # The DAG files did not change: the second run reuses the parsed pod and gives the same result.
    out.unlink()
    again = _task(pod_project, "podtest", "summarize")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "pod reused from the last parse" in again.stdout
    assert out.read_text().splitlines() == ["label,amount", "total,42"]


def _task_containers(dag_id: str, task_id: str) -> list[str]:
    """The task's containers still on this machine (running or not), by the label `task` gives them."""
    label = f"label=airflow-automation.task={dag_id}.{task_id}"
    listed = subprocess.run(["docker", "ps", "-a", "-q", "--filter", label], capture_output=True, text=True,
                            check=True)
    return listed.stdout.split()


@pytest.mark.docker
def test_task_exit_code_is_the_containers(pod_project: dict[str, Path]) -> None:
    result = _task(pod_project, "podtest", "fail")
    assert result.returncode == 3
    assert "      failing" in result.stdout and "failed with exit code 3" in result.stdout
    assert _task_containers("podtest", "fail") == []  # removed once its exit code was read


@pytest.mark.docker
def _interactive_sigint() -> None:
    # As from a terminal: a suite started as a background job inherits SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler, so Ctrl-C would never reach the command.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_task_ctrl_c_stops_and_removes_the_container(pod_project: dict[str, Path]) -> None:
    """Output arrives while the container runs; Ctrl-C then stops and removes it, and exits 130."""
    proc = subprocess.Popen([sys.executable, "-m", "automation", "task", "podtest", "sleep", "--settings",
                             str(pod_project["overlay"]), "--dags-dir", str(pod_project["dags"]), "--data-dir",
                             str(pod_project["data"])], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_interactive_sigint)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    try:
        seen = ""
        while "      started" not in seen:
            seen += lines.get(timeout=300)
        assert len(_task_containers("podtest", "sleep")) == 1
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "interrupted: stopping and removing the task's container" in seen + "".join(lines.queue)
    assert _task_containers("podtest", "sleep") == []


@pytest.mark.docker
def test_task_unsupported_feature_is_one_line(pod_project: dict[str, Path]) -> None:
    result = _task(pod_project, "podtest", "init")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "init containers (prep)" in lines[0]


def _expected_summary(sales: Path) -> list[tuple[str, str, int, int, float]]:
    """example1's summary computed independently: valid rows once each, revenue per month and region."""
    seen: set[str] = set()
    groups: dict[tuple[str, str], list[float]] = {}
    with sales.open() as handle:
        for row in csv.DictReader(handle):
            if any(not (row.get(c) or "").strip() for c in EXAMPLE1_COLUMNS) or row["order_id"] in seen:
                continue
            seen.add(row["order_id"])
            acc = groups.setdefault((row["order_date"][:7], row["region"]), [0, 0, 0.0])
            acc[0] += 1
            acc[1] += int(row["quantity"])
            acc[2] += int(row["quantity"]) * float(row["unit_price"])
    return [(m, r, int(a[0]), int(a[1]), round(a[2], 2)) for (m, r), a in sorted(groups.items())]


EXAMPLE1_COLUMNS = ["order_id", "order_date", "region", "product", "quantity", "unit_price"]


@pytest.mark.docker
def test_task_example1_end_to_end(built: dict[str, object], tmp_path: Path) -> None:
    """example1's tasks, in order, in the built image, on a copy of its data: the summary is exact."""
    need((REPO / "dags" / "example1").is_dir(), "dags/example1 (the example DAG)")
    dags = tmp_path / "dags"
    shutil.copytree(REPO / "dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    (dags / "common" / "images.json").write_text(json.dumps(built["tags"], indent=2, sort_keys=True))
    data = tmp_path / "data"
    shutil.copytree(REPO / "data" / "example1", data / "example1", ignore=shutil.ignore_patterns("output", "work"))
    subprocess.run(["chmod", "-R", "a+rwX", str(data)], check=True)
    projects = tmp_path / "k8s"
    shutil.copytree(REPO / "k8s" / "example1", projects / "example1")
    if not (projects / "example1" / "secret.env").is_file():  # git-ignored: CI has only the template
        shutil.copyfile(projects / "example1" / "secret.env.example", projects / "example1" / "secret.env")
    overlay = _write(tmp_path / "overlay.yaml", f"targets:\n  local:\n    projects_dir: {projects}\n")
    config = (projects / "example1" / "config.env").read_text()
    output = next(line.split("=", 1)[1] for line in config.splitlines() if line.startswith("OUTPUT_FILE="))
    for task_id in ("extract", "transform", "load"):
        result = run_cli("task", "example1", task_id, "--dags-dir", str(dags), "--data-dir", str(data),
                         "--settings", str(overlay))
        assert result.returncode == 0, f"{task_id}: {result.stdout}{result.stderr}"
    with (data / "example1" / output).open() as handle:
        rows = list(csv.DictReader(handle))
    got = [(r["month"], r["region"], int(r["orders"]), int(r["units"]), round(float(r["revenue"]), 2)) for r in rows]
    assert got == _expected_summary(data / "example1" / "input" / "sales.csv")
    assert len(got) >= 3


def test_committed_tags_match_the_images_built_by_default() -> None:
    """dags/common/images.json in git names the images `nox -s images` builds on the default base, so a fresh
    clone's DAGs and its images agree; a change under images/ without re-tagging fails here."""
    committed = json.loads((REPO / "dags/common/images.json").read_text())
    built_by_default = {name: image.tag(BuildOptions()) for name, image in discover().items() if not image.manual}
    assert committed == built_by_default
