"""What a target is: typed, validated settings (loaded from `targets.yaml` by `settings.files`)."""

from __future__ import annotations

import re
from dataclasses import field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator
from pydantic.dataclasses import dataclass as checked

from automation.core.hints import nox_command
from automation.core.paths import REPO_ROOT
from automation.core.versions import VERSIONS

STRICT = ConfigDict(extra="forbid")

DnsLabel = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
Quantity = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$")]


@checked(config=STRICT)
class Chart:
    source: Literal["repo", "path"] = "repo"
    repository: str = "https://airflow.apache.org"
    name: str = "airflow"
    path: str | None = None
    version: str = VERSIONS.chart

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", value):
            raise ValueError(f"a chart version such as {VERSIONS.chart}, not {value!r}")
        return value


@checked(config=STRICT)
class Minikube:
    profile: DnsLabel = "airflow"
    cpus: Annotated[int, Field(ge=2)] = 4
    memory_mb: Annotated[int, Field(ge=2048)] = 6144
    driver: str = "docker"
    disk: Annotated[str, Field(pattern=r"^[0-9]+[mMgG][bB]?$")] = "40g"


@checked(config=STRICT)
class Existing:
    # kube context to use; None means the current context of the kubeconfig.
    context: str | None = None
    kubeconfig: str | None = None


@checked(config=STRICT)
class Gke:
    project: str
    region: str
    cluster: str
    artifact_repository: str = "airflow"
    # GCS Fuse backs the same claims as locally: DAGs (read-only) and data, each from its bucket.
    dags_bucket: str = ""
    data_bucket: str = ""
    logs_bucket: str = ""
    google_service_account: str = ""
    kubernetes_service_account: str = "airflow-tasks"


COMPOSER_IMAGE = re.compile(r"composer-3-airflow-(\d+\.\d+\.\d+)(?:-build\.\d+)?")


@checked(config=STRICT)
class Composer:
    project: str
    region: str
    environment: str
    artifact_repository: str = "airflow"
    data_bucket: str = ""
    # The environment's own bucket (`gcloud composer environments describe ... --format='value(config.dagGcsPrefix)'`
    # without /dags): task pods fetch their scripts from its dags/ folder.
    environment_bucket: str = ""
    # The Composer image the environment runs (composer-3-airflow-X.Y.Z-build.N): its Airflow version is
    # the one DAGs are checked against.
    image_version: str = ""

    @field_validator("image_version")
    @classmethod
    def _composer_3(cls, value: str) -> str:
        if value and not COMPOSER_IMAGE.fullmatch(value):
            raise ValueError(f"a Composer 3 image version (composer-3-airflow-X.Y.Z[-build.N]), not {value!r}")
        return value

    @property
    def airflow_version(self) -> str | None:
        """The Airflow of the image version: composer-3-airflow-3.1.7-build.2 -> 3.1.7."""
        match = COMPOSER_IMAGE.fullmatch(self.image_version)
        return match.group(1) if match else None


@checked(config=STRICT)
class Mount:
    # Folder on this machine (relative to the repository) and where the node sees it.
    host: str
    node: str

    @field_validator("node")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"an absolute path on the node, not {value!r}")
        return value


@checked(config=STRICT)
class Mounts:
    dags: Mount
    data: Mount


@checked(config=STRICT)
class Logs:
    # A node-native folder (not a host mount: containers cannot write there), owned by uid 50000.
    node_path: str = "/data/airflow-logs"
    size: Quantity = "5Gi"
    # Remote logging (GKE): gs://BUCKET/PATH. Empty: logs live on the claim.
    remote_base: str = ""


@checked(config=STRICT)
class Database:
    # chart: the chart's bundled PostgreSQL. external: a connection URL from a git-ignored file, stored once
    # as the Secret the chart reads (`data.metadataSecretName`).
    mode: Literal["chart", "external"] = "chart"
    url_file: str | None = None


@checked(config=STRICT)
class Images:
    # How images built on this machine reach the cluster.
    load: Literal["minikube", "kind", "registry", "none", "command", "containerd"] = "minikube"
    # For load=command: run once per image, {image} is replaced by NAME:TAG (a shell pipeline is allowed).
    command: str | None = None
    # For load=registry: prefix such as REGION-docker.pkg.dev/PROJECT/REPO, or a registry the cluster pulls
    # from (Minikube's registry addon, a kind local registry: only the layers it lacks are pushed and pulled).
    registry: str | None = None
    # How the cluster's nodes name that registry when it differs from where this machine pushes (Minikube's
    # addon: push to MINIKUBE_IP:5000, pods pull localhost:5000). Pods and DAGs use this one.
    pull_registry: str | None = None
    # For load=registry: the method used when the registry does not answer (the whole image copied instead,
    # under the same name, so pods and tags are unchanged). None: an unreachable registry is an error.
    fallback: Literal["minikube", "kind", "command", "containerd"] | None = None
    # kind cluster name for load=kind.
    kind_cluster: str = "kind"
    # For load=containerd: the socket of the containerd the nodes' kubelet uses (images are streamed from
    # this machine's Docker into `ctr images import`), and its namespace (the CRI's is k8s.io).
    containerd_socket: str | None = None
    containerd_namespace: str = "k8s.io"
    # The base of images built here (worker images, the rehearsal's GCS emulator) instead of the pinned default
    # (automation/core/versions.py worker_base_image): a mirror, or an image pinned by digest. `images --base-image`
    # overrides it.
    base_image: str | None = None
    # A CA bundle trusted while building (an intercepting proxy); `images --ca-bundle` overrides it.
    ca_bundle: str | None = None

    def push_registry(self) -> str:
        """Where this machine pushes worker images ('' when they are not pushed to a registry)."""
        return (self.registry or "").rstrip("/")

    def cluster_registry(self) -> str:
        """The registry prefix of images as pods name them ('' when images are loaded without one)."""
        return (self.pull_registry or self.registry or "").rstrip("/")


@checked(config=STRICT)
class Login:
    username: str = "admin"
    # The local target's fixed password; None on shared targets, where it comes from `password_secret`.
    password: str | None = None
    password_secret: str | None = None


@checked(config=STRICT)
class Ui:
    port: Annotated[int, Field(ge=1024, le=65535)] = 8090
    service: str = "api-server"


@checked(config=STRICT)
class Target:
    name: str
    provider: Literal["minikube", "existing", "gke", "composer", "composer-rehearsal"]
    namespace: DnsLabel = "airflow"
    release: DnsLabel = "airflow"
    chart: Chart = field(default_factory=Chart)
    values: list[str] = field(default_factory=list)
    projects: list[DnsLabel] = field(default_factory=list)
    # Where each project's config.env / secret.env live (one folder per project).
    projects_dir: str = "k8s"
    ui: Ui = field(default_factory=Ui)
    login: Login = field(default_factory=Login)
    minikube: Minikube | None = None
    existing: Existing | None = None
    gke: Gke | None = None
    composer: Composer | None = None
    mounts: Mounts | None = None
    logs: Logs = field(default_factory=Logs)
    database: Database = field(default_factory=Database)
    images: Images = field(default_factory=Images)
    # Where task pods find their project's data: a path inside the pod, or gs://BUCKET.
    data_root: str = "/data"
    # Failed task pods kept per project (the newest), for `kubectl logs/describe`; older ones, and every task pod
    # that never started, are deleted when a task of the project ends. Their logs and events are in task logs.
    # The default is the contract's KEEP_FAILED_PODS (a test keeps them equal): the contract file is loaded from
    # dags/ by path, which settings alone must not need.
    keep_failed_pods: Annotated[int, Field(ge=0)] = 3
    # Airflow components that cannot run on a cluster (for example statsd where its image cannot be pulled).
    disable: list[str] = field(default_factory=list)
    # The Airflow this target runs, when it is not the pinned one (versions.py).
    airflow_version: str | None = None
    # composer-rehearsal only: the Composer target this one rehearses (its composer block is taken from there).
    rehearses: str | None = None
    # composer-rehearsal only: where its API server checks a Google access token (Google's OAuth2 `tokeninfo`
    # method by default; CI: the Google APIs double).
    tokeninfo_url: str = ""
    # Seconds `up` waits for the Airflow components.
    ready_timeout: Annotated[int, Field(ge=30)] = 900
    # The --settings files this target was read with (set by `load_target`, never in a file): every next-step hint
    # repeats them, so it can be copied as is.
    settings_files: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # A registry delivery on Google Cloud without images.registry pushes to the target's Artifact Registry
        # repository: set once here, so the push (`images`) and the name pods pull (task-pod facts) agree.
        cloud = self.gke or self.composer
        if self.images.load == "registry" and not self.images.registry and cloud is not None:
            self.images.registry = f"{cloud.region}-docker.pkg.dev/{cloud.project}/{cloud.artifact_repository}"

    @property
    def executor(self) -> str:
        """The Composer rehearsal runs Composer's executor: Celery workers, with a Redis broker (Composer runs
        CeleryExecutor: https://cloud.google.com/composer/docs/composer-3/use-celery-kubernetes-executor);
        every other Helm target the origin README's KubernetesExecutor."""
        return "CeleryExecutor" if self.provider == "composer-rehearsal" else "KubernetesExecutor"

    def command(self, session: str, *args: str) -> str:
        """A next step to copy as is: `nox -s SESSION -- [ARGS] --target NAME [--settings FILE ...]`."""
        return nox_command(session, self.name, self.settings_files, *args)

    def path(self, relative: str) -> Path:
        """A settings path, relative to the repository root."""
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else REPO_ROOT / candidate


