"""`task DAG_ID TASK_ID`: run one KubernetesPodOperator task's pod locally with `docker run` (the inner loop).

The pod comes from the provider's own `build_pod_request_obj()`, so what runs here is what the cluster would
run: same image, command, arguments, environment (the project's ConfigMap and Secret read from
k8s/PROJECT/*.env), user, and the DAG and data claims bound to this repository's dags/ and data/ folders.
"""

from __future__ import annotations

import os
from pathlib import Path

from automation.core.errors import UserError
from automation.core.paths import DAGS_FOLDER, REPO_ROOT
from automation.core.runner import Runner
from automation.images.build import exists_locally
from automation.settings.model import Target
from automation.task.docker_run import Folders, translate
from automation.task.pod import cache_context, cached_pod, load_task, render_pod, store_pod


def run_task(runner: Runner, target: Target, dag_id: str, task_id: str, *, dags: Path | None = None,
             data: Path | None = None, user: str | None = None, run_id: str = "manual__local",
             reparse: bool = False) -> int:
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
    env = {**os.environ, **run.secret_env}
    with runner.step(f"task {dag_id}.{task_id}: docker run {image}"):
        result = runner.run(run.command(), env=env, stream=True, check=False, timeout=None)
    if result.dry_run:
        return 0
    status = "succeeded" if result.ok else f"failed with exit code {result.exit_code}"
    runner.say(f"==> task {dag_id}.{task_id} {status} ({result.seconds:.1f}s in the container)")
    return result.exit_code


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
