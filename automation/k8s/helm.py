"""The official Airflow chart: merged values, the chart reference, and whether an upgrade is needed."""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from automation.core.errors import UserError
from automation.core.runner import Runner, register_secret
from automation.core.versions import VERSIONS
from automation.k8s.apply import validate
from automation.k8s.cluster import LiveCluster
from automation.settings.model import Target


@dataclass(frozen=True)
class ChartRef:
    args: list[str]  # what follows RELEASE in `helm upgrade --install RELEASE ...`
    version: str
    local_path: Path | None = None


def chart_ref(target: Target) -> ChartRef:
    chart = target.chart
    if chart.source == "repo":
        return ChartRef([chart.name, "--repo", chart.repository, "--version", chart.version], chart.version)
    path = target.path(chart.path or "")
    if not path.exists():
        raise UserError(f"chart path {path} does not exist", "set chart.path to the chart folder or its .tgz")
    found = local_chart_version(path)
    if found != chart.version:
        raise UserError(f"the chart at {path} is version {found}, the target pins {chart.version}",
                        "use the pinned chart, or set chart.version to match it")
    return ChartRef([str(path)], chart.version, path)


def local_chart_version(path: Path) -> str:
    try:
        if path.is_dir():
            meta = yaml.safe_load((path / "Chart.yaml").read_text())
        else:
            with tarfile.open(path) as tar:
                member = next(m for m in tar.getmembers() if m.name.count("/") == 1 and m.name.endswith("/Chart.yaml"))
                handle = tar.extractfile(member)
                meta = yaml.safe_load(handle.read() if handle else b"")
    except (OSError, StopIteration, tarfile.TarError, yaml.YAMLError) as exc:
        raise UserError(f"{path} is not a Helm chart ({type(exc).__name__})",
                        "point chart.path at a chart folder with Chart.yaml, or a chart .tgz") from None
    return str(meta.get("version"))


def values_files(target: Target, extra: list[str] | None = None) -> list[Path]:
    files = [target.path(v) for v in target.values] + [Path(v).resolve() for v in (extra or [])]
    for path in files:
        if not path.is_file():
            raise UserError(f"Helm values file {path} does not exist", "fix the target's values list or --values")
    return files


def merged_values(target: Target, generated: dict[str, Any], extra: list[str] | None = None) -> dict[str, Any]:
    """common file(s) -> values generated from the settings -> per-target overlay -> user files."""
    files = values_files(target, extra)
    merged: dict[str, Any] = {}
    common, rest = files[:1], files[1:]
    for path in common:
        merged = _merge_values(merged, _load(path))
    merged = _merge_values(merged, generated)
    for path in rest:
        merged = _merge_values(merged, _load(path))
    return merged


def _merge_values(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    # Helm replaces lists and merges maps: do the same so what we compare is what Helm computes.
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


def _load(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: invalid YAML ({getattr(exc, 'problem', exc)})", "fix the values file") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: a values file must be a mapping")
    return data


def normalize(values: dict[str, Any]) -> Any:
    return json.loads(json.dumps(values, sort_keys=True, default=str))


@dataclass(frozen=True)
class Release:
    name: str
    status: str
    chart: str
    revision: int

    @property
    def chart_version(self) -> str:
        # "NAME-VERSION", where the version may carry a pre-release part (1.22.0-rc1): split at the first
        # "-" that starts a version.
        match = re.search(r"-(\d+\.\d+\.\d+\S*)$", self.chart)
        return match.group(1) if match else self.chart.rsplit("-", 1)[-1]

    @property
    def pending(self) -> bool:
        return self.status.startswith("pending")


class Helm:
    def __init__(self, runner: Runner, target: Target, kube_args: list[str], state: Any = None):
        self.runner = runner
        self.target = target
        self.kube_args = kube_args  # --kube-context / --kubeconfig
        # A live cluster's API, when there is one: the release is then read from Helm's own storage in one
        # request, instead of two `helm` processes (about 0.3 s each, on every `up`).
        self.state = state
        self._stored: tuple[Release, dict[str, Any]] | None = None

    def _base(self) -> list[str]:
        return ["helm", *self.kube_args, "-n", self.target.namespace]

    def release(self) -> Release | None:
        stored = self._from_storage()
        if stored is not None:
            return stored[0]
        return self.release_from_cli()

    def release_from_cli(self) -> Release | None:
        # `helm history` reads the same on Helm 3 and 4, pending revisions included.
        result = self.runner.try_read([*self._base(), "history", self.target.release, "-o", "json", "--max", "1"],
                                      timeout=60)
        if result is None:
            return None
        items = json.loads(result.stdout or "[]")
        if not items:
            return None
        last = items[-1]
        return Release(self.target.release, last["status"], last["chart"], int(last["revision"]))

    def deployed_values(self) -> dict[str, Any] | None:
        stored = self._from_storage()
        if stored is not None:
            return stored[1]
        return self.deployed_values_from_cli()

    def deployed_values_from_cli(self) -> dict[str, Any] | None:
        result = self.runner.try_read([*self._base(), "get", "values", self.target.release, "-o", "json"], timeout=60)
        if result is None:
            return None
        return json.loads(result.stdout or "null") or {}

    def _from_storage(self) -> tuple[Release, dict[str, Any]] | None:
        """The newest revision from Helm's storage driver 'secret' (its default, Helm 3 and 4): Secrets labelled
        owner=helm, name=RELEASE, each holding the release as base64 of gzipped JSON. None when this cannot be
        read that way (no API, another driver, no release yet): the CLI then answers."""
        import base64
        import gzip
        import os

        if self._stored is not None:
            return self._stored
        if self.state is None or os.environ.get("HELM_DRIVER", "secret") not in ("secret", "secrets"):
            return None
        try:
            secrets = self.state.list("Secret", self.target.namespace,
                                      selector=f"owner=helm,name={self.target.release}")
        except Exception:  # the API's own failure: the CLI reports it in its words
            return None
        if not secrets:
            return None
        newest = max(secrets, key=lambda s: int(s["metadata"].get("labels", {}).get("version", 0)))
        try:
            raw = base64.b64decode(base64.b64decode(newest["data"]["release"]))
            release = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
            metadata = release["chart"]["metadata"]
            found = Release(release["name"], release["info"]["status"],
                            f"{metadata['name']}-{metadata['version']}", int(release["version"]))
        except (KeyError, ValueError, TypeError, OSError):
            return None
        self._stored = (found, release.get("config") or {})
        return self._stored

    def needs_upgrade(self, release: Release | None, values: dict[str, Any]) -> str | None:
        """Why an upgrade is needed, or None when the release already runs this chart with these values."""
        if release is None:
            return "not installed"
        if release.status != "deployed":
            return f"release status is {release.status}"
        if release.chart_version != self.target.chart.version:
            return f"chart {release.chart_version} -> {self.target.chart.version}"
        deployed = self.deployed_values()
        if deployed is None or normalize(deployed) != normalize(values):
            return "values changed"
        return None

    def recover(self, release: Release) -> None:
        """A release left pending by an interrupted `up`: roll back to the last good revision, or remove a
        first install that never finished (our volumes and secrets are not part of the release)."""
        self._stored = None  # read again after this
        if release.status == "pending-install" or release.revision <= 1:
            self.runner.run([*self._base(), "uninstall", release.name, "--wait", "--timeout", "5m"], timeout=360)
        else:
            self.runner.run([*self._base(), "rollback", release.name, "--wait", "--timeout", "10m"], timeout=660)

    def rollback(self, revision: int) -> None:
        """Back to `revision` of the release (its manifests and values as they were). Not waited for: after a
        failed upgrade the old version's pods wait for the database to be restored first."""
        self._stored = None
        self.runner.run([*self._base(), "rollback", self.target.release, str(revision), "--timeout", "5m"],
                        timeout=360, fix=f"see the release's history: helm history {self.target.release} "
                                         f"-n {self.target.namespace}")

    def upgrade(self, chart: ChartRef, values_file: Path) -> None:
        self._stored = None
        self.runner.run(
            [*self._base(), "upgrade", "--install", self.target.release, *chart.args,
             "-f", str(values_file), "--timeout", f"{self.target.ready_timeout}s"],
            timeout=self.target.ready_timeout + 60,
            stream=True,
            heartbeat=20,
            fix=f"see the pods' state: {self.target.command('status')}",
        )

    def validate(self, chart: ChartRef, values_file: Path, state: LiveCluster) -> int:
        """--dry-run=server: Helm's own server dry run (lookups, the cluster's API versions, its checks of the
        release), then every manifest of the release sent to the API server with dryRun=All. Nothing is stored.
        How many manifests were accepted."""
        result = self.runner.run(
            [*self._base(), "upgrade", "--install", self.target.release, *chart.args, "-f", str(values_file),
             "--dry-run=server", "-o", "json"],
            mutates=False, timeout=300, fix=f"see what the chart renders: {self.target.command('render')}")
        try:
            manifest = str(json.loads(result.stdout).get("manifest") or "")
        except ValueError:
            raise UserError("helm upgrade --dry-run=server printed no release JSON",
                            "run it again with -v to see helm's output") from None
        docs = [doc for doc in yaml.safe_load_all(manifest) if doc]
        for doc in docs:  # Helm installs what names no namespace into the release's
            if state.namespaced(doc["kind"]):
                doc["metadata"].setdefault("namespace", self.target.namespace)
        accepted = validate(self.runner, state, docs)
        self.runner.ok(f"Helm release {self.target.release}: {accepted} of {len(docs)} manifests accepted by the "
                       "API server (dry run)")
        return accepted

    def template(self, chart: ChartRef, values_file: Path) -> list[dict[str, Any]]:
        result = self.runner.run(
            ["helm", "template", self.target.release, *chart.args, "-n", self.target.namespace,
             "-f", str(values_file), "--kube-version", VERSIONS.kubernetes],
            mutates=False, quiet=True, timeout=120,
        )
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    def uninstall(self) -> None:
        self.runner.run([*self._base(), "uninstall", self.target.release, "--wait", "--timeout", "5m"], timeout=360)


def register_value_secrets(values: dict[str, Any], shown_login: str | None = None) -> None:
    """Passwords that values carry (a generated UI login, a DB password) are masked in everything printed.
    The local target's documented login (admin/admin) is printed on purpose."""
    user = ((values.get("createUserJob") or {}).get("defaultUser") or {})
    if user.get("password") != shown_login:
        register_secret(user.get("password"))
    conn = ((values.get("data") or {}).get("metadataConnection") or {})
    register_secret(conn.get("pass"))

