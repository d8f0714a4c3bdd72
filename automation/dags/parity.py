"""The parity check: every task pod, built by real Airflow from this repository's DAGs under the exact
environment a target's Airflow components get, checked against that target before anything is deployed.

The environment comes from the deployment `up` is about to apply (its values files included), where it is
really set: the rendered chart's scheduler container (Helm targets, with a local chart; the chart values
otherwise), or the planned environment-variable update (Composer). Each task's pod goes through `RULES`, small
functions each naming what it references (claims, ServiceAccount, ConfigMaps and Secrets, namespace), and
the target's own rules (GKE: Workload Identity and the GCS Fuse annotation; Composer 3: its pod rules, no
volumes, code fetched from a bucket). With a reachable cluster, the target's objects and every pod are sent to
the API server as a server-side dry run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.core.errors import UserError
from automation.core.hints import nox_command
from automation.core.paths import DAGS_FOLDER
from automation.core.runner import Runner
from automation.dags.gate import MAX_PARSE_SECONDS, parse
from automation.dags.gate import gate as integrity_gate
from automation.k8s.cluster import LiveCluster
from automation.providers import Provider
from automation.providers.composer_pod_rules import is_changed
from automation.providers.deployer import Deployment
from automation.settings.contract import (
    DAGS_PATH,
    GCSFUSE_ANNOTATION,
    KUBERNETES_CONN_ID,
    LAUNCHER,
    XCOM_SIDECAR,
    emulator_env,
)

DRY_RUN_WORKERS = 8


@dataclass
class ParityReport:
    target: str
    env_source: str
    pods: int = 0
    problems: list[str] = field(default_factory=list)
    # What the platform will change rather than refuse (Composer 3 raising a request): printed, not failing.
    warnings: list[str] = field(default_factory=list)
    server_checked: int = 0


def parse_env(env: dict[str, str]) -> dict[str, str]:
    # Airflow's own settings stay those of the parser's sandbox; everything else is passed as the target has it.
    return {k: v for k, v in env.items() if not k.startswith("AIRFLOW__")}


def environment_problems(wanted: dict[str, str], env: dict[str, str], source: str) -> list[str]:
    """The contract's variables the components' environment does not carry as the contract says."""
    return [f"environment: {name} is {env.get(name)!r} in {source}, the contract says {wanted[name]!r} -- a values "
            "file overrides it: remove that override" for name in sorted(wanted) if env.get(name) != wanted[name]]


@dataclass(frozen=True)
class PodTarget:
    """What the rules read of the target a task pod is checked against."""

    name: str
    facts: Any  # the task-pod contract (TaskPodFacts)
    claims: frozenset[str]  # the claims the target defines
    projects: frozenset[str]  # the projects whose ConfigMap and Secret it makes

    @classmethod
    def of(cls, provider: Provider) -> PodTarget:
        return cls(provider.target.name, provider.task_pod_facts(), frozenset(v.name for v in provider.volumes()),
                   frozenset(obj.name for obj in provider.project_objects()))


Pod = dict[str, Any]
Rule = Callable[[PodTarget, Pod], list[str]]


def _containers(pod: Pod) -> list[dict[str, Any]]:
    return list((pod.get("spec") or {}).get("containers") or [])


def namespace_rule(target: PodTarget, pod: Pod) -> list[str]:
    namespace = (pod.get("metadata") or {}).get("namespace")
    if namespace == target.facts.namespace:
        return []
    return [f"runs in namespace {namespace!r}, but target {target.name} puts task pods and project objects in "
            f"{target.facts.namespace!r} -- let project_task choose the namespace"]


def claims_rule(target: PodTarget, pod: Pod) -> list[str]:
    where = f"defines {', '.join(sorted(target.claims))}" if target.claims else "defines no claim"
    return [f"mounts claim {claim!r}, but target {target.name} {where}: the pod would stay Pending -- use "
            "project_task, which mounts the target's claims"
            for volume in (pod.get("spec") or {}).get("volumes") or []
            if (claim := (volume.get("persistentVolumeClaim") or {}).get("claimName")) is not None
            and claim not in target.claims]


def host_path_rule(target: PodTarget, pod: Pod) -> list[str]:
    if target.claims:
        return []
    return [f"mounts host path {volume['hostPath'].get('path')!r}: target {target.name} has no node folders -- "
            "read data through DATA_ROOT instead"
            for volume in (pod.get("spec") or {}).get("volumes") or [] if volume.get("hostPath") is not None]


def service_account_rule(target: PodTarget, pod: Pod) -> list[str]:
    account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
    if account == target.facts.service_account:
        return []
    return [f"runs as ServiceAccount {account!r}, but target {target.name} gives task pods "
            f"{target.facts.service_account!r} -- drop service_account_name from the task"]


def annotations_rule(target: PodTarget, pod: Pod) -> list[str]:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    return [f"lacks the pod annotation {key}={value!r} that target {target.name} needs "
            f"({'its bucket-backed claims never mount' if key == GCSFUSE_ANNOTATION else 'required'})"
            " -- build the task with project_task"
            for key, value in target.facts.pod_annotations.items() if annotations.get(key) != value]


def project_objects_rule(target: PodTarget, pod: Pod) -> list[str]:
    return [f"reads {kind.removesuffix('Ref')} {ref.get('name')!r}, which target {target.name} does not define -- "
            "add the project to its projects: list"
            for container in _containers(pod) for source in container.get("envFrom") or []
            for kind, ref in source.items()
            if kind in ("configMapRef", "secretRef") and ref.get("name") not in target.projects]


def registry_rule(target: PodTarget, pod: Pod) -> list[str]:
    registry = target.facts.image_registry
    return [f"image {container.get('image') or ''} is not in the target's registry {registry} -- use "
            "project_task's image= (names from images/)"
            for container in _containers(pod) if registry and container.get("name") == "base"
            and not str(container.get("image") or "").startswith(registry)]


def emulator_rule(target: PodTarget, pod: Pod) -> list[str]:
    return [finding for container in _containers(pod) if container.get("name") == "base"
            for finding in _emulator_findings(target.name, target.facts, container)]


def code_root_rule(target: PodTarget, pod: Pod) -> list[str]:
    problems = []
    for container in _containers(pod):
        command = container.get("command") or []
        if command[1:2] != [LAUNCHER]:
            continue
        root = command[command.index("--code-root") + 1] if "--code-root" in command else DAGS_PATH
        mounted = any(m.get("mountPath") == DAGS_PATH for m in container.get("volumeMounts") or [])
        if "://" not in root and not mounted:
            problems.append(f"reads its script from {root}, which is not mounted on target {target.name} -- set "
                            "the target's code root (composer.environment_bucket)")
    return problems


def sidecar_rule(target: PodTarget, pod: Pod) -> list[str]:
    return _sidecar_findings(target.name, pod.get("spec") or {})


# Every target's rules, in the order their lines are printed; the provider adds its platform's (pod_rules).
RULES: tuple[Rule, ...] = (namespace_rule, claims_rule, host_path_rule, service_account_rule, annotations_rule,
                           project_objects_rule, registry_rule, emulator_rule, code_root_rule, sidecar_rule)


def client_findings(target: PodTarget, client: dict[str, str]) -> list[str]:
    """How the task's operator reaches the cluster, against the target's: Composer's workers start task pods
    through the kubeconfig file at its path (the rehearsal's too), other targets through the worker's own
    in-cluster identity; both with the connection Google's samples name."""
    wanted_file = target.facts.kube_config_file
    found = []
    if client.get("config_file", "") != wanted_file:
        where = f"the kubeconfig file {wanted_file}" if wanted_file else "the worker's in-cluster identity"
        found.append(f"starts its pod with config_file={client.get('config_file') or None!r}, but target "
                     f"{target.name}'s workers reach the cluster through {where} -- drop config_file from the task")
    if client.get("kubernetes_conn_id", "") != KUBERNETES_CONN_ID:
        found.append(f"uses connection {client.get('kubernetes_conn_id')!r}, not {KUBERNETES_CONN_ID!r}, which "
                     f"target {target.name} configures -- drop kubernetes_conn_id from the task")
    return found


def check_pod(provider: Provider, task: str, pod: Pod, target: PodTarget | None = None) -> list[str]:
    """Every way `pod` would fail on the provider's target: one line each, naming the task and the fix."""
    target = target or PodTarget.of(provider)
    findings = [finding for rule in RULES for finding in rule(target, pod)]
    findings += [finding for rule in provider.pod_rules() for finding in rule(pod)]
    return [f"{task}: {finding}" for finding in findings]


def _sidecar_findings(target: str, spec: dict[str, Any]) -> list[str]:
    """The XCom sidecar (the one Composer 3 allows) is accepted on every target when it runs the task's own
    image, which the node has; the provider's default (alpine, or a connection's image) would be pulled."""
    containers = spec.get("containers") or []
    base = containers[0] if containers else {}
    return [f"its {XCOM_SIDECAR} runs image {c.get('image')!r}, not the task's {base.get('image')!r}: target "
            f"{target}'s nodes would have to pull it -- build the task with project_task(..., xcom=True)"
            for c in containers[1:] if c.get("name") == XCOM_SIDECAR and c.get("image") != base.get("image")]


def _emulator_findings(target: str, facts: Any, container: dict[str, Any]) -> list[str]:
    """The emulator variables are set exactly where the target has an emulator: a rehearsal pod without
    them would call Cloud Storage; a cloud pod with them would call an emulator that is not there."""
    env = {e.get("name"): e.get("value") for e in container.get("env") or []}
    wanted = emulator_env(facts.storage_emulator_host)
    found = []
    for name, value in wanted.items():
        if env.get(name) != value:
            found.append(f"{name} is {env.get(name)!r}, target {target}'s GCS emulator needs {value!r} -- "
                         "leave it to project_task (env= must not set it)")
    if not wanted and env.get("STORAGE_EMULATOR_HOST"):
        found.append(f"sets STORAGE_EMULATOR_HOST={env['STORAGE_EMULATOR_HOST']!r}, but target {target} has no "
                     "GCS emulator: its reads would not reach Cloud Storage -- remove it from the task's env")
    return found


def server_dry_run(provider: Provider, pods: dict[str, dict[str, Any]]) -> tuple[int, list[str]]:
    """The target's objects and every task pod, as a server-side dry run on the real API server (schema,
    defaults and admission: a missing ServiceAccount or namespace is refused there as it would be for real)."""
    state = provider.state()
    if not isinstance(state, LiveCluster):
        return 0, []
    problems: list[str] = []
    checked = 0
    namespace = provider.task_pod_facts().namespace
    # A dry run creates nothing: before the first `up`, namespaced objects cannot be checked yet.
    present = state.get("Namespace", namespace) is not None
    for manifest in provider.desired_objects():
        if manifest["metadata"].get("namespace") and not present:
            continue
        error = state.dry_run(manifest)
        checked += 1
        if error:
            problems.append(f"{manifest['kind']}/{manifest['metadata']['name']}: refused by the API server: {error}")
    if not present:
        provider.runner.say(f"    note: namespace {namespace} does not exist yet: its objects and the task pods are "
                            "sent to the API server once `up` has made it")
        return checked, problems
    # One request per pod is unavoidable (a dry run takes one object); sent a few at a time, 570 pods of 50
    # projects take seconds instead of a round trip each in a row.
    state.resource("Pod")  # API discovery once, before the threads share it
    with ThreadPoolExecutor(max_workers=DRY_RUN_WORKERS) as pool:
        answers = pool.map(lambda item: (item[0], state.dry_run(item[1], create=True)), sorted(pods.items()))
        for task, error in answers:
            checked += 1
            if error:
                problems.append(f"{task}: refused by the API server: {error}")
    return checked, problems


def check(runner: Runner, provider: Provider, deployment: Deployment, dags_folder: Path = DAGS_FOLDER,
          server: bool = True, max_seconds: float = MAX_PARSE_SECONDS) -> ParityReport:
    """One parse of the DAG files under the environment `deployment` gives Airflow's components (the values
    files `up` merged included): the integrity gate (printed, raises on a problem), then the parity findings
    (returned). Reads only: nothing is written."""
    env, source = deployment.component_env()
    report = ParityReport(provider.target.name, source)
    parsed = parse(dags_folder, task_env=parse_env(env), pods=True)
    integrity_gate(runner, dags_folder, max_seconds, report=parsed)
    report.problems.extend(environment_problems(provider.task_env(), env, source))
    target = PodTarget.of(provider)
    report.pods = len(parsed.pods)
    report.problems.extend(f"{task}: its pod cannot be built: {error}"
                           for task, error in sorted(parsed.pod_errors.items()))
    for task, pod in sorted(parsed.pods.items()):
        for line in check_pod(provider, task, pod, target):
            (report.warnings if is_changed(line) else report.problems).append(line)
        report.problems.extend(f"{task}: {finding}" for finding in client_findings(target, parsed.clients[task]))
    if provider.cloud is not None:
        report.problems.extend(f"cloud: {problem}" for problem in provider.cloud.problems(deployment))
    if server and provider.cluster is not None:
        report.server_checked, server_problems = server_dry_run(provider, parsed.pods)
        report.problems.extend(server_problems)
    return report


def gate(runner: Runner, provider: Provider, deployment: Deployment, dags_folder: Path = DAGS_FOLDER,
         server: bool = True, max_seconds: float = MAX_PARSE_SECONDS) -> ParityReport:
    """The check as a gate: a summary line, one line per problem, a UserError when there is any."""
    report = check(runner, provider, deployment, dags_folder, server, max_seconds)
    for warning in report.warnings:
        runner.say(f"    warning: {warning}")
    for problem in report.problems:
        runner.say(f"    problem: {problem}")
    if report.problems:
        more = f" (and {len(report.problems) - 1} more, listed above)" if len(report.problems) > 1 else ""
        raise UserError(f"parity (target {report.target}): {report.problems[0]}{more}",
                        f"fix the task or the target, then run `{nox_command('dags', report.target)}`")
    accepted = f"; {report.server_checked} objects and pods accepted by the API server (dry run)" \
        if report.server_checked else ""
    runner.ok(f"target {report.target}: {report.pods} task pods fit it "
              f"(environment from {report.env_source}){accepted}")
    return report


def check_once(runner: Runner, provider: Provider, deployment: Deployment) -> None:
    """The gate as `up` runs it, on the deployment `up` is about to apply, before anything is deployed. It takes
    seconds (Airflow's imports), so a pass is remembered against a fingerprint of the DAG files, the
    deployment's inputs, the target's environment and the Airflow version."""
    if runner.dry_run:
        runner.plan(f"DAG integrity and parity check over {DAGS_FOLDER.name}/ for target {provider.target.name} "
                    "(the `dags` command)")
        return
    stamp = provider.state_dir() / "dags-check.pass"
    fingerprint = dags_fingerprint(DAGS_FOLDER, provider, deployment)
    if stamp.is_file() and stamp.read_text() == fingerprint:
        runner.ok("DAG files and target unchanged since the last passing check")
        return
    gate(runner, provider, deployment, server=False)
    stamp.write_text(fingerprint)


def dags_fingerprint(folder: Path, provider: Provider, deployment: Deployment) -> str:
    digest = hashlib.sha256(provider.airflow_version().encode())
    digest.update(json.dumps(provider.task_env(), sort_keys=True).encode())
    digest.update(json.dumps(sorted(provider.target.projects)).encode())
    digest.update(json.dumps(deployment.inputs, sort_keys=True, default=str).encode())
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            info = path.stat()
            digest.update(f"{path.relative_to(folder)}:{info.st_size}:{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()
