"""A task pod (its API form) translated for local Docker, without Docker: environment with Kubernetes'
precedence, secrets kept off the printed command, mounts, user; and the same container as the SDK's arguments."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from automation.core.errors import UserError
from automation.core.runner import Runner, mask, register_secret
from automation.settings import load_target
from automation.settings.contract import DAGS_CLAIM, DATA_CLAIM
from automation.settings.model import Target
from automation.task import run as task_run
from automation.task.docker_run import DockerRun, Folders, engine_mount, translate

SECRET = "s3cr3t-token-for-translation"


@pytest.fixture
def target(tmp_path: Path) -> Target:
    projects = tmp_path / "k8s"
    (projects / "proj").mkdir(parents=True)
    (projects / "proj" / "config.env").write_text("MODE=config\nSHARED=from-config\nLEVEL=INFO\n")
    (projects / "proj" / "secret.env").write_text(f"API_TOKEN={SECRET}\nSHARED=from-secret\nDB_PASSWORD=pw-1234\n")
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(f"targets:\n  local:\n    projects_dir: {projects}\n")
    return load_target("local", [str(overlay)])


@pytest.fixture
def folders(tmp_path: Path) -> Folders:
    dags, data = tmp_path / "dags", tmp_path / "data"
    dags.mkdir()
    data.mkdir(mode=0o777)
    data.chmod(0o777)
    return Folders(dags=dags, data=data)


def _pod(**container: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "securityContext": {"runAsUser": 50000, "runAsGroup": 0},
        "volumes": [
            {"name": "dags", "persistentVolumeClaim": {"claimName": DAGS_CLAIM}},
            {"name": "data", "persistentVolumeClaim": {"claimName": DATA_CLAIM}},
            {"name": "scratch", "emptyDir": {}},
        ],
        "containers": [{
            "name": "base", "image": "pandas-basic:0123456789abcdef",
            "command": ["python", "/opt/airflow/dags/job.py"], "args": ["--day", "2024-01-01"],
            "envFrom": [{"configMapRef": {"name": "proj"}}, {"secretRef": {"name": "proj"}}],
            "env": [{"name": "LEVEL", "value": "DEBUG"},
                    {"name": "DB_PASSWORD", "value": "plain-now"},
                    {"name": "ONE_KEY", "valueFrom": {"secretKeyRef": {"name": "proj", "key": "API_TOKEN"}}}],
            "volumeMounts": [
                {"name": "dags", "mountPath": "/opt/airflow/dags", "readOnly": True},
                {"name": "data", "mountPath": "/data/proj", "subPath": "proj"},
                {"name": "scratch", "mountPath": "/scratch"},
            ],
            **container,
        }],
    }
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "t"}, "spec": spec}


def test_environment_follows_kubernetes_precedence(target: Target, folders: Folders) -> None:
    run = translate(_pod(), target, folders)
    # envFrom in order (the Secret's SHARED wins over the ConfigMap's), then env entries win over both.
    assert run.env == {"MODE": "config", "LEVEL": "DEBUG", "DB_PASSWORD": "plain-now"}
    assert run.secret_env == {"API_TOKEN": SECRET, "SHARED": "from-secret", "ONE_KEY": SECRET}
    # A key is either plain or secret, never both; the container gets all of them.
    assert not set(run.env) & set(run.secret_env)
    assert run.environment() == {**run.env, **run.secret_env}


def test_secret_values_never_in_the_printed_command(target: Target, folders: Folders) -> None:
    run = translate(_pod(), target, folders)
    cmd = run.command()
    line = " ".join(cmd)
    assert SECRET not in line and "from-secret" not in line
    envs = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--env"]
    # Secret ones by name only (`-e KEY`: the value comes from the environment), sorted with the others.
    assert envs == ["API_TOKEN", "DB_PASSWORD=plain-now", "LEVEL=DEBUG", "MODE=config", "ONE_KEY", "SHARED"]
    assert mask(SECRET) == "******"  # read from secret.env: registered, so masked wherever printed


def test_mounts_user_and_command(target: Target, folders: Folders) -> None:
    run = translate(_pod(workingDir="/work"), target, folders)
    assert run.mounts == [
        f"type=bind,source={folders.dags.resolve()},destination=/opt/airflow/dags,readonly",
        f"type=bind,source={(folders.data / 'proj').resolve()},destination=/data/proj",
        "type=tmpfs,destination=/scratch,tmpfs-mode=1777",
    ]
    assert (folders.data / "proj").is_dir()  # a writable data subPath is made, as the cluster would
    assert run.user == "50000:0"
    cmd = run.command()
    assert cmd[:5] == ["docker", "run", "--rm", "--pull", "never"]
    assert cmd[cmd.index("--user") + 1] == "50000:0" and cmd[cmd.index("--workdir") + 1] == "/work"
    assert cmd[-4:] == ["pandas-basic:0123456789abcdef", "/opt/airflow/dags/job.py", "--day", "2024-01-01"]
    assert cmd[cmd.index("--entrypoint") + 1] == "python"


def test_container_user_overrides_the_pods(target: Target, folders: Folders) -> None:
    run = translate(_pod(securityContext={"runAsUser": 1234}), target, folders)
    assert run.user == "1234:0"
    pod = _pod()
    pod["spec"].pop("securityContext")
    assert translate(pod, target, folders).user is None


def test_sdk_arguments_are_the_same_container(target: Target, folders: Folders) -> None:
    run = translate(_pod(workingDir="/work"), target, folders)
    kwargs = run.create_kwargs()
    assert kwargs["image"] == "pandas-basic:0123456789abcdef"
    assert kwargs["entrypoint"] == ["python"]
    assert kwargs["command"] == ["/opt/airflow/dags/job.py", "--day", "2024-01-01"]
    assert kwargs["environment"]["API_TOKEN"] == SECRET and kwargs["environment"]["LEVEL"] == "DEBUG"
    assert kwargs["user"] == "50000:0" and kwargs["working_dir"] == "/work"
    assert [dict(m) for m in kwargs["mounts"]] == [
        {"Target": "/opt/airflow/dags", "Source": str(folders.dags.resolve()), "Type": "bind", "ReadOnly": True},
        {"Target": "/data/proj", "Source": str((folders.data / "proj").resolve()), "Type": "bind",
         "ReadOnly": False},
        {"Target": "/scratch", "Source": None, "Type": "tmpfs", "ReadOnly": False,
         "TmpfsOptions": {"Mode": 0o1777}},
    ]


def test_no_command_keeps_the_images_entrypoint() -> None:
    kwargs = DockerRun(image="x:1", args=["a", "b"]).create_kwargs()
    assert "entrypoint" not in kwargs and kwargs["command"] == ["a", "b"]
    assert "user" not in kwargs and "working_dir" not in kwargs
    assert DockerRun(image="x:1").create_kwargs()["command"] is None


def test_mount_strings_that_do_not_translate() -> None:
    with pytest.raises(ValueError, match="no destination"):
        engine_mount("type=bind,source=/x")
    with pytest.raises(ValueError, match="only bind and tmpfs"):
        engine_mount("type=volume,source=v,destination=/v")
    with pytest.raises(ValueError, match="unknown option"):
        engine_mount("type=bind,source=/x,destination=/y,bind-propagation=shared")


def test_optional_sources_without_a_file_are_skipped(target: Target, folders: Folders) -> None:
    """As Kubernetes does: project_task marks the project's ConfigMap and Secret optional."""
    pod = _pod(envFrom=[{"configMapRef": {"name": "none", "optional": True}},
                        {"secretRef": {"name": "none", "optional": True}}], env=[])
    assert translate(pod, target, folders).environment() == {}
    pod = _pod(envFrom=[{"secretRef": {"name": "none"}}], env=[])
    with pytest.raises(UserError, match=r"reads Secret 'none' but .*secret\.env does not exist"):
        translate(pod, target, folders)


def test_unsupported_pod_is_refused(target: Target, folders: Folders) -> None:
    pod = _pod()
    pod["spec"]["volumes"].append({"name": "cfg", "configMap": {"name": "x"}})
    pod["spec"]["containers"][0]["volumeMounts"].append({"name": "cfg", "mountPath": "/cfg"})
    with pytest.raises(UserError, match="volume 'cfg' of type configMap"):
        translate(pod, target, folders)


# -- the container through the SDK, with a stand-in engine: streaming, exit code, removal ---------------------
class FakeContainer:
    def __init__(self, chunks: list[bytes], code: int = 0, interrupt: bool = False):
        self.chunks, self.code, self.interrupt = chunks, code, interrupt
        self.calls: list[str] = []

    def start(self) -> None:
        self.calls.append("start")

    def logs(self, **kwargs: Any) -> Iterator[bytes]:
        assert kwargs["stream"] and kwargs["follow"]
        yield from self.chunks
        if self.interrupt:
            raise KeyboardInterrupt

    def wait(self) -> dict[str, int]:
        self.calls.append("wait")
        return {"StatusCode": self.code}

    def stop(self, timeout: int) -> None:
        self.calls.append("stop")

    def remove(self, force: bool = False) -> None:
        self.calls.append("remove")


def _engine(monkeypatch: pytest.MonkeyPatch, container: FakeContainer) -> dict[str, Any]:
    created: dict[str, Any] = {}

    def create(**kwargs: Any) -> FakeContainer:
        created.update(kwargs)
        return container

    engine = SimpleNamespace(containers=SimpleNamespace(create=create))
    monkeypatch.setattr(task_run, "client", lambda: engine)
    return created


def test_logs_stream_line_by_line_masked_and_exit_code_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    container = FakeContainer([b"first li", b"ne\nsecond ", SECRET.encode() + b" caf\xc3", b"\xa9\nno newline"],
                              code=3)
    register_secret(SECRET)
    created = _engine(monkeypatch, container)
    runner = Runner(out=io.StringIO())
    run = DockerRun(image="x:1", args=["go"], secret_env={"API_TOKEN": SECRET}, mounts=["type=tmpfs,destination=/t"])
    result = task_run.run_container(runner, run, name="task-x", labels={"k": "v"})
    out = runner.out.getvalue()  # type: ignore[attr-defined]
    assert out.splitlines()[1:] == ["      first line", "      second ****** café", "      no newline"]
    assert out.splitlines()[0] == "    $ docker run --rm --pull never --mount type=tmpfs,destination=/t " \
                                  "--env API_TOKEN x:1 go"
    assert SECRET not in out
    assert result.exit_code == 3 and runner.history[-1] is result
    assert container.calls == ["start", "wait", "remove"]
    assert created["environment"] == {"API_TOKEN": SECRET} and created["name"] == "task-x"


def test_ctrl_c_stops_and_removes_the_container(monkeypatch: pytest.MonkeyPatch) -> None:
    container = FakeContainer([b"working\n"], interrupt=True)
    _engine(monkeypatch, container)
    runner = Runner(out=io.StringIO())
    with pytest.raises(KeyboardInterrupt):
        task_run.run_container(runner, DockerRun(image="x:1"))
    assert container.calls[:3] == ["start", "stop", "remove"]
    assert "interrupted: stopping and removing" in runner.out.getvalue()  # type: ignore[attr-defined]


def test_container_names_are_valid_and_unique() -> None:
    a, b = task_run._container_name("my dag", "t/1"), task_run._container_name("my dag", "t/1")
    assert a != b and a.startswith("task-my-dag.t-1-")
