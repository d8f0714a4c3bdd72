"""`task DAG_ID TASK_ID`: run one KubernetesPodOperator task's pod locally in Docker (the inner loop).

The pod comes from the provider's own `build_pod_request_obj()`, so what runs here is what the cluster would
run: same image, command, arguments, environment (the project's ConfigMap and Secret read from
k8s/PROJECT/*.env), user, and the DAG and data claims bound to this repository's dags/ and data/ folders.
The container runs through the Docker API (its logs streamed, its exit code returned, removed afterwards); a
dry run shows the equivalent `docker run` line.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import re
import shlex
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from automation.core.errors import UserError
from automation.core.paths import DAGS_FOLDER, REPO_ROOT
from automation.core.runner import Result, Runner, mask
from automation.images.build import exists_locally
from automation.images.engine import client
from automation.settings.model import Target
from automation.settings.secret_files import prepare_secret_files
from automation.task.docker_run import DockerRun, Folders, translate
from automation.task.pod import cache_context, cached_pod, load_task, render_pod, store_pod
from automation.task.xcom import read_return, store

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container


# How long a stopped task (Ctrl-C) may take to exit before it is killed.
STOP_SECONDS = 5


def run_task(runner: Runner, target: Target, dag_id: str, task_id: str, *, dags: Path | None = None,
             data: Path | None = None, user: str | None = None, run_id: str = "manual__local",
             reparse: bool = False) -> int:
    prepare_secret_files(runner, target)  # the pod's environment reads them
    folders = Folders(
        dags=(dags or (target.path(target.mounts.dags.host) if target.mounts else DAGS_FOLDER)).resolve(),
        data=(data or (target.path(target.mounts.data.host) if target.mounts else REPO_ROOT / "data")).resolve(),
    )
    key = cache_context(folders, target, dag_id, task_id, run_id)
    hit = None if reparse else cached_pod(key, dag_id, task_id)
    with runner.step(f"task {dag_id}.{task_id}: the pod, from the DAG"):
        if hit is not None:
            pod, notes = hit
            runner.ok("the DAG's files are unchanged: pod reused from the last parse (--reparse forces one)")
        else:
            dag, task = load_task(folders.dags, dag_id, task_id)
            pod, notes = render_pod(dag, task, target, run_id)
            store_pod(key, dag_id, task_id, folders.dags, pod, notes)
        run = translate(pod, target, folders)
        run.notes += notes
        if user:
            run.user = user
    for note in run.notes:
        runner.say(f"    note: {note}")
    image = _local_image(runner, run.image)
    run.image = image
    with contextlib.ExitStack() as stack, runner.step(f"task {dag_id}.{task_id}: docker run {image}"):
        xcom_folder = None
        if run.xcom_dir:
            # In place of the sidecar's emptyDir: a folder of this machine, writable by the task's user.
            xcom_folder = Path(stack.enter_context(
                tempfile.TemporaryDirectory(prefix="task-xcom-", ignore_cleanup_errors=True)))
            xcom_folder.chmod(0o777)
            run.mounts.append(f"type=bind,source={xcom_folder},destination={run.xcom_dir}")
        if runner.dry_run:
            # The plan shows the equivalent command line (secret values only by name, as `-e KEY`).
            runner.run(run.command(), mutates=True)
            return 0
        result = run_container(runner, run, name=_container_name(dag_id, task_id),
                               labels={"airflow-automation.task": f"{dag_id}.{task_id}"})
        if xcom_folder is not None and result.ok:
            _report_xcom(runner, dag_id, task_id, xcom_folder)
        elif xcom_folder is not None:
            store(dag_id, task_id, False, None)  # a failed task returns no XCom, on the cluster as here
    status = "succeeded" if result.ok else f"failed with exit code {result.exit_code}"
    runner.say(f"==> task {dag_id}.{task_id} {status} ({result.seconds:.1f}s in the container)")
    return result.exit_code


def _report_xcom(runner: Runner, dag_id: str, task_id: str, folder: Path) -> None:
    """The XCom the sidecar would have returned, printed as one JSON line and kept for the DAG's later tasks."""
    found, value = read_return(folder, f"{dag_id}.{task_id}")
    store(dag_id, task_id, found, value)
    if found:
        runner.say(f"==> XCom return_value of {dag_id}.{task_id}: {mask(json.dumps(value, sort_keys=True))}")
    else:
        runner.say(f"==> XCom return_value of {dag_id}.{task_id}: none (the task wrote no XCom file)")


def run_container(runner: Runner, run: DockerRun, *, name: str | None = None,
                  labels: dict[str, str] | None = None) -> Result:
    """`run` through the Docker API: created (never pulled, as `--pull never`), started, its logs streamed to
    the runner's output line by line and masked, its exit code awaited, then removed: also on an error or Ctrl-C,
    which stops it first.

    The equivalent `docker run` line is printed first; secret values travel only in the create request's body.
    """
    from docker.errors import APIError, DockerException

    engine = client()
    runner.say(f"    $ {mask(shlex.join(run.command()))}")
    container = None
    t0 = time.monotonic()
    try:
        try:
            # create + start is what `containers.run(detach=True)` does, less its pull of a missing image.
            container = engine.containers.create(**run.create_kwargs(), name=name, labels=labels or {},
                                                 detach=True)
            container.start()
        except APIError as exc:
            raise UserError(f"the task's container did not start: {mask(str(exc.explanation or exc))}",
                            "check the task's image, cmds, arguments and volumes") from None
        t0 = time.monotonic()
        try:
            _stream_lines(runner, container.logs(stream=True, follow=True, stdout=True, stderr=True))
            code = int(container.wait()["StatusCode"])
        except (DockerException, OSError) as exc:  # OSError: the engine's connection (requests) broke
            raise UserError(f"lost the task's container: {mask(str(exc))}",
                            "check the Docker engine (docker info), then run the task again") from None
    except KeyboardInterrupt:
        runner.say("    interrupted: stopping and removing the task's container")
        _remove(engine, container, name, stop=True)
        raise
    finally:
        _remove(engine, container, name)
    result = Result(run.command(), code, "", "", time.monotonic() - t0)
    runner.history.append(result)
    return result


def _stream_lines(runner: Runner, chunks: Iterable[bytes]) -> None:
    """The container's output as it comes, one masked line at a time (a chunk may end inside a line or inside
    a UTF-8 character: both wait for the rest)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""

    def emit(line: str) -> None:
        runner.out.write("      " + mask(line) + "\n")
        runner.out.flush()

    for chunk in chunks:
        pending += decoder.decode(chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            emit(line)
    pending += decoder.decode(b"", final=True)
    if pending:
        emit(pending)


def _remove(engine: DockerClient, container: Container | None, name: str | None, *, stop: bool = False) -> None:
    """Remove the task's container whatever happened (by name when it was created but not yet returned)."""
    from docker.errors import DockerException, NotFound

    with contextlib.suppress(DockerException, OSError):
        if container is None:
            if name is None:
                return
            try:
                container = engine.containers.get(name)
            except NotFound:
                return
        if stop:  # SIGTERM, then SIGKILL after a few seconds (a shell or Python as PID 1 ignores SIGTERM)
            container.stop(timeout=STOP_SECONDS)
        container.remove(force=True)


def _container_name(dag_id: str, task_id: str) -> str:
    """A unique, valid container name that says whose container it is (in `docker ps`)."""
    stem = re.sub(r"[^a-zA-Z0-9_.-]+", "-", f"{dag_id}.{task_id}")[:80]
    return f"task-{stem}-{uuid.uuid4().hex[:8]}"


def _local_image(runner: Runner, image: str) -> str:
    """The pod's image, or the same NAME:TAG without its registry (built here, pushed under a longer name)."""
    if exists_locally(runner, image):
        return image
    short = image.rsplit("/", 1)[-1]
    if short != image and exists_locally(runner, short):
        return short
    if runner.dry_run:
        return image
    raise UserError(f"image {image} is not in this machine's Docker",
                    "build it: nox -s images (the tag comes from dags/common/images.json)")
