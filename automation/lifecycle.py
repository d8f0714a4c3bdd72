"""`up`, `down`, `status`, `render` and `rotate-fernet-key`: each step reads the state first and does only
what is missing, so every command is safe to run again."""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from automation import desired, prereqs, secrets
from automation.errors import UserError
from automation.helm import Helm, chart_ref, merged_values, register_value_secrets
from automation.kube import LiveCluster, Unreachable, ensure, redact
from automation.manifests import ConfigMap, Secret
from automation.providers import Provider, provider_for, state_dir
from automation.ready import component_status, wait_ready
from automation.runner import Runner, mask
from automation.settings import Target
from automation.ui import current_url, forward, open_ui, pick_port


@dataclass
class Options:
    values: list[str] = field(default_factory=list)
    port: int | None = None
    skip_dags_check: bool = False
    no_wait: bool = False
    purge: bool = False
    yes: bool = False
    out: str | None = None


@contextmanager
def exclusive(target: Target, action: str) -> Iterator[None]:
    """One `up`/`down` per target at a time; the lock goes with the process, even when it is killed."""
    path = state_dir(target) / "lifecycle.lock"
    handle = open(path, "a+")  # noqa: SIM115 - held for the whole block, closed in finally
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise UserError(f"another command is already changing target {target.name!r} ({holder})",
                        "wait for it to finish, or stop it, then run this again") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{action} pid {os.getpid()}")
    handle.flush()
    try:
        yield
    finally:
        handle.truncate(0)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def values_for(target: Target, options: Options) -> dict[str, Any]:
    values = merged_values(target, desired.chart_values(target), options.values)
    register_value_secrets(values, target.login.password)
    return values


def write_values(target: Target, values: dict[str, Any]) -> Path:
    path = state_dir(target) / "values.merged.yaml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # may hold the UI password
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(values, handle, sort_keys=True)
    return path


def apply_objects(runner: Runner, provider: Provider, state: LiveCluster | Unreachable,
                  projects: list[ConfigMap | Secret]) -> dict[str, str]:
    """Namespace, volumes, Airflow's secrets and each project's ConfigMap and Secret."""
    target = provider.target
    outcome: dict[str, str] = {}
    with runner.step(f"namespace {target.namespace}"):
        outcome["namespace"] = ensure(runner, state, desired.namespace(target).render())
    if desired.volumes(target):
        with runner.step("volumes: logs (node folder owned by 50000), DAGs (read-only), data"):
            for volume in desired.volumes(target):
                for manifest in volume.render():
                    outcome[f"{manifest['kind']}/{manifest['metadata']['name']}"] = ensure(runner, state, manifest)
            provider.ensure_node_folders(state)
    with runner.step("Airflow secrets (made once, never regenerated)"):
        name = secrets.core_secret_name(target)
        current = state.get("Secret", name, target.namespace)
        core, missing = secrets.core_secret(target, current)
        if current is not None and not missing:
            runner.ok(f"Secret/{name} present with {', '.join(secrets.CORE_KEYS)}: kept as is")
            outcome["core-secret"] = "unchanged"
        else:
            if missing and current is not None:
                runner.say(f"    adding missing keys {', '.join(missing)}; existing keys are kept")
            outcome["core-secret"] = ensure(runner, state, core.render())
        if target.database.mode == "external":
            db = Secret(secrets.metadata_secret_name(target), target.namespace,
                        {"connection": secrets.external_db_url(target)})
            outcome["metadata-secret"] = ensure(runner, state, db.render())
    with runner.step(f"projects: {', '.join(target.projects) or 'none'}"):
        for obj in projects:
            outcome[f"{type(obj).__name__}/{obj.name}"] = ensure(runner, state, obj.render())
    # Cloud providers add their own objects (GCS volumes, Workload Identity service account, UI login).
    provider_objects = getattr(provider, "ensure_objects", None)
    if callable(provider_objects):
        outcome.update(provider_objects(state))
    return outcome


def up(runner: Runner, target: Target, options: Options) -> dict[str, Any]:
    provider = provider_for(runner, target)
    own_flow = getattr(provider, "up", None)
    if callable(own_flow):  # Cloud Composer: no cluster access, no Helm
        return dict(own_flow(options))
    report: dict[str, Any] = {"target": target.name}
    mode = " (dry run: nothing is changed)" if runner.dry_run else ""
    runner.say(f"up: target {target.name} ({target.provider}), namespace {target.namespace}{mode}")
    with exclusive(target, "up"):
        with runner.step("prerequisites"):
            preflight(runner, provider, options)
            prereqs.check(runner, provider.binaries)
        # Every input is read before anything is made: a bad file stops `up` with nothing changed.
        chart = chart_ref(target)
        values = values_for(target, options)
        projects = secrets.project_objects(target)
        with runner.step(f"cluster ({target.provider})"):
            provider.ensure_cluster()
        with runner.step("mounts"):
            provider.ensure_mounts()
        state = provider.state()
        if isinstance(state, Unreachable) and not runner.dry_run:
            raise UserError(f"cluster not reachable after start: {state.why}", "check `kubectl get nodes`")
        report["objects"] = apply_objects(runner, provider, state, projects)
        if not options.skip_dags_check:
            with runner.step("DAG integrity (skip with --skip-dags-check)"):
                dag_check(runner, target)
        with runner.step(f"Helm release {target.release} (chart {chart.version}, Airflow {values['airflowVersion']})"):
            helm = Helm(runner, target, provider.kube_args())
            release = helm.release()
            if release is not None and release.pending:
                runner.say(f"    release left {release.status} by an interrupted run: recovering")
                helm.recover(release)
                release = helm.release()
            reason = helm.needs_upgrade(release, values)
            report["helm"] = reason or "unchanged"
            if reason is None:
                runner.ok(f"release {target.release} revision {release.revision if release else '?'} "
                          "already runs this chart with these values")
            else:
                runner.say(f"    upgrade needed: {reason}")
                helm.upgrade(chart, write_values(target, values))
        if runner.dry_run or options.no_wait:
            url = f"http://localhost:{options.port or target.ui.port}"
        else:
            assert isinstance(state, LiveCluster)
            with runner.step("waiting for api-server, scheduler, dag-processor, triggerer"):
                report["ready_seconds"] = wait_ready(runner, state, target)
            with runner.step("UI"):
                url = open_ui(runner, provider, options.port)
        report["url"] = url
    login = target.login
    password = login.password or f"(kubectl get secret {secrets.login_secret_name(target)} -n {target.namespace})"
    if runner.dry_run:
        runner.say(f"\nDry run complete: nothing was changed. A real run would serve {url} "
                   f"(login {login.username} / {password}).")
    else:
        runner.say(f"\nAirflow is up: {url}  login {login.username} / {password}")
    runner.say(f"Next: `nox -s images -- --target {target.name}`, then `nox -s e2e -- --target {target.name}`. "
               f"Stop the UI forward: `nox -s down -- --target {target.name}`.")
    runner.say(f"Total {runner.elapsed().strip()}")
    return report


def preflight(runner: Runner, provider: Provider, options: Options) -> None:
    """Input checks that need no tool: refuse before anything is made."""
    target = provider.target
    check_resources = getattr(provider, "check_resources", None)
    if callable(check_resources):
        check_resources()
    if target.mounts is not None:
        for name, mount in (("dags", target.mounts.dags), ("data", target.mounts.data)):
            if not target.path(mount.host).is_dir():
                raise UserError(f"mount source {target.path(mount.host)} does not exist",
                                f"create it, or fix targets.{target.name}.mounts.{name}.host")
    if options.port is not None and current_url(target) != f"http://localhost:{options.port}":
        pick_port(options.port, explicit=True)


def dag_check(runner: Runner, target: Target) -> None:
    """The DAG integrity gate (`nox -s dags`). It takes seconds (Airflow's imports), so a pass is remembered
    against a fingerprint of the DAG files and of the Airflow version: an unchanged folder is not parsed again."""
    from automation import dagcheck  # type: ignore[attr-defined,unused-ignore]

    if runner.dry_run:
        runner.plan(f"DAG integrity gate over {dagcheck.DAGS_FOLDER.name}/ (the `dags` command)")
        return
    stamp = state_dir(target).parent / "dagcheck.pass"
    fingerprint = dags_fingerprint(dagcheck.DAGS_FOLDER)
    if stamp.is_file() and stamp.read_text() == fingerprint:
        runner.ok("DAG files unchanged since the last passing check")
        return
    dagcheck.gate(runner)
    stamp.write_text(fingerprint)


def dags_fingerprint(folder: Path) -> str:
    import hashlib

    from automation.versions import VERSIONS

    digest = hashlib.sha256(VERSIONS.airflow.encode())
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            info = path.stat()
            digest.update(f"{path.relative_to(folder)}:{info.st_size}:{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def down(runner: Runner, target: Target, options: Options) -> None:
    provider = provider_for(runner, target)
    with exclusive(target, "down"):
        forward(target).stop(runner)
        if options.purge:
            if not options.yes and not runner.dry_run:
                answer = input(f"Delete namespace {target.namespace}, its volumes and secrets, "
                               f"for target {target.name}? [y/N] ")
                if answer.strip().lower() not in ("y", "yes"):
                    raise UserError("purge cancelled", "nothing was deleted; pass --yes to skip the question")
            _purge(runner, provider)
            return
        state = provider.state()
        if target.is_local_cluster and target.provider == "minikube":
            provider.stop()
        elif not isinstance(state, Unreachable):
            helm = Helm(runner, target, provider.kube_args())
            if helm.release() is None:
                runner.ok(f"release {target.release} not installed")
            else:
                helm.uninstall()
        runner.say(f"down: target {target.name} stopped; data, logs and secrets are kept. "
                   f"`nox -s up -- --target {target.name}` brings it back; `--purge` deletes everything.")


def _purge(runner: Runner, provider: Provider) -> None:
    target = provider.target
    state = provider.state()
    if target.provider == "minikube":
        provider.purge(state)
    else:
        if not isinstance(state, Unreachable):
            helm = Helm(runner, target, provider.kube_args())
            if helm.release() is not None:
                helm.uninstall()
        runner.plan(f"delete Namespace/{target.namespace}")
        if isinstance(state, LiveCluster) and not runner.dry_run:
            state.delete("Namespace", target.namespace)
            deadline = time.monotonic() + 300
            while state.get("Namespace", target.namespace) and time.monotonic() < deadline:
                time.sleep(2)
        provider.purge(state)
    runner.say(f"down --purge: target {target.name} deleted (namespace, volumes, secrets).")
    if target.database.mode == "external":
        runner.say("    note: the external metadata database keeps its data, encrypted with the deleted Fernet key: "
                   "drop and recreate it before the next `up` (its connections and variables cannot be read).")


def status(runner: Runner, target: Target, as_json: bool = False) -> dict[str, Any]:
    provider = provider_for(runner, target)
    state = provider.state()
    rows: dict[str, Any] = {"target": f"{target.name} ({target.provider})", "cluster": provider.cluster_summary(),
                            "mounts": provider.mounts_summary()}
    ns = state.get("Namespace", target.namespace)
    rows["namespace"] = f"{target.namespace}: {'present' if ns else 'absent'}"
    vols = []
    for volume in desired.volumes(target):
        claim = state.get("PersistentVolumeClaim", volume.name, target.namespace)
        vols.append(f"{volume.name} {(claim or {}).get('status', {}).get('phase', 'absent')}")
    rows["volumes"] = ", ".join(vols) or "-"
    names = [secrets.core_secret_name(target), *target.projects]
    present = [n for n in names if state.get("Secret", n, target.namespace)]
    rows["secrets"] = f"present: {', '.join(present) or 'none'}" + (
        f"; absent: {', '.join(sorted(set(names) - set(present)))}" if set(names) - set(present) else "")
    release = Helm(runner, target, provider.kube_args()).release() if state.reachable else None
    rows["release"] = (f"{release.name} revision {release.revision}, {release.status}, chart {release.chart_version}"
                       if release else "not installed")
    if isinstance(state, LiveCluster):
        comps = component_status(state, target)
        rows["pods ready"] = ", ".join(f"{c} {r}/{d}" for c, (r, d) in sorted(comps.items())) or "none"
    else:
        rows["pods ready"] = "cluster unreachable"
    rows["ui"] = current_url(target) or "not forwarded (`nox -s up` opens it)"
    if as_json:
        runner.say(json.dumps(rows, indent=2))
    else:
        width = max(len(k) for k in rows)
        for key, value in rows.items():
            runner.say(f"{key:<{width}}  {value}")
    return rows


def render(runner: Runner, target: Target, options: Options) -> list[Path]:
    """Every manifest and the merged Helm values the target would apply; touches no cluster."""
    out = Path(options.out or f"render/{target.name}")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.yaml"):
        old.unlink()
    values = values_for(target, options)
    docs: list[dict[str, Any]] = [desired.namespace(target).render()]
    for volume in desired.volumes(target):
        docs.extend(volume.render())
    core, _ = secrets.core_secret(target, None)
    docs.append(redact(core.render()))
    docs.extend(redact(obj.render()) for obj in secrets.project_objects(target))
    extra = _cloud_manifests(runner, target)
    docs.extend(extra)
    written = []
    objects = out / "objects.yaml"
    objects.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    written.append(objects)
    values_path = out / "values.yaml"
    values_path.write_text(yaml.safe_dump(_masked_values(values), sort_keys=True))
    written.append(values_path)
    chart = chart_ref(target)
    if chart.local_path is not None and target.provider != "composer" and runner.which("helm"):
        helm = Helm(runner, target, [])
        chart_docs = helm.template(chart, write_values(target, values))
        manifests = out / "chart.yaml"
        manifests.write_text(yaml.safe_dump_all([redact(d) for d in chart_docs], sort_keys=False))
        written.append(manifests)
    for path in written:
        runner.say(f"wrote {path}")
    return written


def _masked_values(values: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(mask(json.dumps(values))))


def _cloud_manifests(runner: Runner, target: Target) -> list[dict[str, Any]]:
    if target.is_local_cluster:
        return []
    provider = provider_for(runner, target)
    extra = getattr(provider, "manifests", None)
    return list(extra()) if callable(extra) else []


def rotate_fernet_key(runner: Runner, target: Target, finish: bool) -> None:
    """Airflow's documented rotation: NEW,OLD in the Secret, `airflow rotate-fernet-key`, then NEW alone."""
    provider = provider_for(runner, target)
    state = provider.state()
    if isinstance(state, Unreachable):
        raise UserError(f"cluster not reachable: {state.why}", f"run `nox -s up -- --target {target.name}` first")
    name = secrets.core_secret_name(target)
    current = secrets.decode(state.get("Secret", name, target.namespace))
    if not current.get("fernet-key"):
        raise UserError(f"Secret/{name} has no fernet-key", "run `nox -s up` first: it creates it")
    keys = current["fernet-key"].split(",")
    if finish:
        if len(keys) < 2:
            raise UserError("no rotation in progress (the Secret holds one Fernet key)",
                            "start one with `nox -s rotate-fernet-key`")
        new = {**current, "fernet-key": keys[0]}
    else:
        if len(keys) > 1:
            raise UserError("a rotation is already in progress (NEW,OLD in the Secret)",
                            "finish it with `nox -s rotate-fernet-key -- --finish`")
        new = secrets.rotate_fernet(current)
    ensure(runner, state, Secret(name, target.namespace, new).render())
    kubectl = ["kubectl", *provider.kubectl_args(), "-n", target.namespace]
    runner.run([*kubectl, "rollout", "restart", "deployment", "-l", f"release={target.release}"])
    runner.run([*kubectl, "rollout", "status", "deployment", f"{target.release}-scheduler", "--timeout=600s"],
               timeout=660)
    if not finish:
        runner.run([*kubectl, "exec", f"deploy/{target.release}-scheduler", "--", "airflow", "rotate-fernet-key"],
                   timeout=600)
        runner.say("Rotation started: data re-encrypted with the new key. Finish with "
                   "`nox -s rotate-fernet-key -- --finish` to drop the old key.")
    else:
        runner.say("Rotation finished: only the new Fernet key remains.")
