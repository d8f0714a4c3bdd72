"""GKE's Google Cloud side, converged like the cluster side: each piece is read first and made only when it is
missing, in the plan either way. The buckets (uniform access), the Google service account, its roles on the
buckets, one Workload Identity binding for every Kubernetes ServiceAccount that carries the Google account's
annotation (read from the rendered chart and the task account's manifest: the accounts are never listed twice),
and the Artifact Registry repository the worker images are pushed to.

Creating the cluster itself stays the user's (`up` names the command when it is missing)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

import yaml

from automation.core.errors import UserError
from automation.core.runner import Result, Runner
from automation.providers.deployer import Deployment
from automation.settings.contract import DAGS_CLAIM, DATA_CLAIM, GCSFUSE_ANNOTATION
from automation.settings.model import Gke, Target

WI_ANNOTATION = "iam.gke.io/gcp-service-account"
POD_MAKERS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
# GCS Fuse's documented roles: read-only for the DAG bucket, read-write for data and logs.
BUCKET_ROLES = {"dags_bucket": "roles/storage.objectViewer", "data_bucket": "roles/storage.objectUser",
                "logs_bucket": "roles/storage.objectUser"}


@dataclass(frozen=True)
class Piece:
    """One thing on Google Cloud: how it is read, whether what was read is what is wanted, how it is made."""

    name: str
    read: list[str]
    make: list[str]
    holds: Callable[[str], bool] = lambda _shown: True


def annotated_accounts(manifests: Iterable[dict[str, Any]], google_account: str) -> list[str]:
    """The Kubernetes ServiceAccounts that act as `google_account` (their Workload Identity annotation)."""
    return sorted({m["metadata"]["name"] for m in manifests if m.get("kind") == "ServiceAccount"
                   and ((m.get("metadata") or {}).get("annotations") or {}).get(WI_ANNOTATION) == google_account})


def pod_templates(manifests: Iterable[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Every pod the manifests make, by the object that makes it: workloads' templates, and the pods a ConfigMap
    holds as YAML (the chart's pod_template_file, which the KubernetesExecutor's workers are made from)."""
    found: list[tuple[str, dict[str, Any]]] = []
    for m in manifests:
        kind, name = m.get("kind"), (m.get("metadata") or {}).get("name")
        spec = m.get("spec") or {}
        if kind in POD_MAKERS:
            found.append((f"{kind}/{name}", (spec.get("jobTemplate", {}).get("spec") or spec).get("template") or {}))
        elif kind == "ConfigMap":
            for key, text in (m.get("data") or {}).items():
                if "kind: Pod" in str(text):
                    pod = yaml.safe_load(text)
                    if isinstance(pod, dict) and pod.get("kind") == "Pod":
                        found.append((f"ConfigMap/{name} ({key})", pod))
    return found


def needs_google(pod: dict[str, Any]) -> bool:
    """A pod that reads Cloud Storage: its bucket-backed claims (GCS Fuse), or the annotation that mounts them."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    claims = {(v.get("persistentVolumeClaim") or {}).get("claimName") for v in (pod.get("spec") or {}).get("volumes")
              or []}
    return annotations.get(GCSFUSE_ANNOTATION) == "true" or bool(claims & {DAGS_CLAIM, DATA_CLAIM})


def unbound_pods(manifests: list[dict[str, Any]], bound: list[str], google_account: str) -> list[str]:
    """The cloud side of the contract: every pod that reads Cloud Storage runs as an account bound to the Google
    account, or it cannot mount its claims."""
    return [f"{maker} runs as ServiceAccount {account!r}, which has no Workload Identity binding to {google_account} "
            "(no iam.gke.io/gcp-service-account annotation), but it mounts bucket-backed claims: it would never start "
            "-- annotate that ServiceAccount in the values file, or drop the override of its name"
            for maker, pod in pod_templates(manifests) if needs_google(pod)
            if (account := (pod.get("spec") or {}).get("serviceAccountName") or "default") not in bound]


def has_binding(shown: str, role: str, member: str) -> bool:
    try:
        policy = json.loads(shown or "{}")
    except ValueError:
        return False
    return any(b.get("role") == role and member in (b.get("members") or []) for b in policy.get("bindings") or [])


def workload_identity_member(project: str, namespace: str, account: str) -> str:
    return f"serviceAccount:{project}.svc.id.goog[{namespace}/{account}]"


def pieces(target: Target, gke: Gke, accounts: list[str]) -> list[Piece]:
    project, region, gsa = gke.project, gke.region, gke.google_service_account
    where = ["--project", project]
    found: list[Piece] = []
    # A bucket named twice (logs in the data bucket) gets the role of its last use: read-write.
    buckets = {getattr(gke, key): role for key, role in BUCKET_ROLES.items() if getattr(gke, key)}
    for bucket in buckets:
        found.append(Piece(f"bucket gs://{bucket}",
                           ["gcloud", "storage", "buckets", "describe", f"gs://{bucket}", "--format=json", *where],
                           ["gcloud", "storage", "buckets", "create", f"gs://{bucket}", "--location", region,
                            "--uniform-bucket-level-access", *where]))
    if not gsa:
        return found
    account_id, _, domain = gsa.partition("@")
    found.append(Piece(f"service account {gsa}",
                       ["gcloud", "iam", "service-accounts", "describe", gsa, "--format=json", *where],
                       ["gcloud", "iam", "service-accounts", "create", account_id, "--display-name",
                        "Airflow and its task pods", "--project", domain.split(".")[0] or project]))
    member = f"serviceAccount:{gsa}"
    for bucket, role in buckets.items():
        found.append(Piece(f"{role} on gs://{bucket} for {gsa}",
                           ["gcloud", "storage", "buckets", "get-iam-policy", f"gs://{bucket}", "--format=json",
                            *where],
                           ["gcloud", "storage", "buckets", "add-iam-policy-binding", f"gs://{bucket}",
                            f"--member={member}", f"--role={role}", *where],
                           holds=partial(has_binding, role=role, member=member)))
    for account in accounts:
        identity = workload_identity_member(project, target.namespace, account)
        found.append(Piece(f"Workload Identity: {target.namespace}/{account} acts as {gsa}",
                           ["gcloud", "iam", "service-accounts", "get-iam-policy", gsa, "--format=json", *where],
                           ["gcloud", "iam", "service-accounts", "add-iam-policy-binding", gsa,
                            f"--member={identity}", f"--role={WORKLOAD_IDENTITY_USER}", *where],
                           holds=partial(has_binding, role=WORKLOAD_IDENTITY_USER, member=identity)))
    if gke.artifact_repository:
        found.append(Piece(f"Artifact Registry repository {gke.artifact_repository} ({region})",
                           ["gcloud", "artifacts", "repositories", "describe", gke.artifact_repository,
                            "--location", region, "--format=json", *where],
                           ["gcloud", "artifacts", "repositories", "create", gke.artifact_repository,
                            "--repository-format=docker", "--location", region, *where]))
    return found


def converge(runner: Runner, wanted: list[Piece]) -> dict[str, str]:
    """Each piece read, made only when missing; the outcome per piece ('present' or 'created'). A policy read
    once serves every binding on it: pieces are only ever added, so a read older than an addition can only plan
    an addition that is already there (which `add-iam-policy-binding` leaves as it is), never miss one."""
    outcome: dict[str, str] = {}
    reads: dict[tuple[str, ...], Result | None] = {}
    for piece in wanted:
        key = tuple(piece.read)
        if key not in reads:
            reads[key] = runner.try_read(piece.read, timeout=120)
        shown = reads[key]
        if shown is not None and piece.holds(shown.stdout):
            runner.ok(f"{piece.name}: present")
            outcome[piece.name] = "present"
            continue
        runner.run(piece.make, timeout=300, fix="check your rights on the project (docs/how-to/gke.md)")
        outcome[piece.name] = "created"
    return outcome


class GkeCloud:
    """The `CloudSide` of the gke target."""

    title = "Google Cloud: buckets, service account and its roles, Workload Identity, Artifact Registry"

    def __init__(self, runner: Runner, target: Target, task_manifests: Callable[[], list[dict[str, Any]]]):
        self.runner = runner
        self.target = target
        self.task_manifests = task_manifests

    @property
    def gke(self) -> Gke:
        assert self.target.gke is not None
        return self.target.gke

    def accounts(self, deployment: Deployment) -> list[str]:
        """Every ServiceAccount of the rendered release and of the task pods that acts as the Google account."""
        try:
            release = deployment.manifests()
        except UserError as exc:
            if not self.runner.dry_run:
                raise
            # A plan made offline: the chart cannot be fetched, so its accounts cannot be read.
            self.runner.say(f"    warning: the chart could not be rendered (...{exc.problem[-120:]}): Workload "
                            "Identity planned for the task account only; a real run renders it first")
            release = []
        return annotated_accounts([*release, *self.task_manifests()], self.gke.google_service_account)

    def problems(self, deployment: Deployment) -> list[str]:
        """Pods of the release that read Cloud Storage as an account that is not bound (the parity check's)."""
        gsa = self.gke.google_service_account
        if not gsa:
            return []
        try:
            manifests = deployment.manifests()
        except UserError as exc:
            self.runner.say(f"    warning: the chart could not be rendered (...{exc.problem[-120:]}): which pods "
                            "mount buckets as which account is not checked here; `up` renders it before it binds")
            return []
        return unbound_pods(manifests, self.accounts(deployment), gsa)

    def pieces(self, deployment: Deployment) -> list[Piece]:
        return pieces(self.target, self.gke, self.accounts(deployment))

    def ensure(self, deployment: Deployment) -> dict[str, str]:
        return converge(self.runner, self.pieces(deployment))
