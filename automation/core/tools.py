"""The pinned minikube, kubectl and helm, installed into this checkout's `.tools/bin` after a sha256 check.

`python -m automation tools` (and the GitHub workflow) downloads each release file, compares its sha256 with
the one pinned in `versions.TOOL_SHA256` before anything is written where it could run, and refuses a
mismatch. A re-run downloads nothing when the installed binary is the one a verified download gave.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from automation.core.errors import UserError
from automation.core.paths import TOOLS_BIN, rel
from automation.core.runner import Runner
from automation.core.versions import TOOL_SHA256, VERSIONS

PINNED_TOOLS = ("minikube", "kubectl", "helm")
# What each install was made from: the verified download's sha256 and the installed binary's.
RECORD = ".installed.json"
# Release files are tens of MB; a stalled mirror should fail, not hang CI.
DOWNLOAD_TIMEOUT = httpx.Timeout(30.0, read=120.0)


def current_platform() -> str:
    """'linux-amd64', 'darwin-arm64', ...: the names the three projects give their release files."""
    system = platform.system().lower()
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{system}-{arch}"


@dataclass(frozen=True)
class Release:
    """One tool's release file for one platform, and the binary inside it."""

    name: str
    version: str
    platform: str
    url: str
    checksum_url: str
    member: str | None = None  # the binary's path inside a .tar.gz; None: the file is the binary

    def source(self, mirror: str | None) -> str:
        """The official URL, or the same path under a mirror (an internal proxy of the release hosts)."""
        if not mirror:
            return self.url
        return mirror.rstrip("/") + urlsplit(self.url).path


def release(name: str, target_platform: str) -> Release:
    version = getattr(VERSIONS, name)
    os_name, arch = target_platform.split("-", 1)
    if name == "minikube":
        url = f"https://storage.googleapis.com/minikube/releases/{version}/minikube-{target_platform}"
        return Release(name, version, target_platform, url, url + ".sha256")
    if name == "kubectl":
        url = f"https://dl.k8s.io/release/{version}/bin/{os_name}/{arch}/kubectl"
        return Release(name, version, target_platform, url, url + ".sha256")
    if name == "helm":
        url = f"https://get.helm.sh/helm-{version}-{target_platform}.tar.gz"
        return Release(name, version, target_platform, url, url + ".sha256sum", member=f"{target_platform}/helm")
    raise UserError(f"unknown tool {name!r}", f"name one of {', '.join(PINNED_TOOLS)}")


def pinned_sha256(item: Release, checksums: Mapping[tuple[str, str], Mapping[str, str]]) -> str:
    sha = checksums.get((item.name, item.version), {}).get(item.platform)
    if not sha:
        raise UserError(f"no sha256 is pinned for {item.name} {item.version} on {item.platform}: refusing to "
                        "install an unchecked download",
                        f"add the published value of {item.checksum_url} to TOOL_SHA256 in "
                        "automation/core/versions.py, or install it yourself and put it on PATH")
    return sha


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _records(bin_dir: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads((bin_dir / RECORD).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def installed(item: Release, sha: str, bin_dir: Path) -> bool:
    """The binary is there and is, byte for byte, what a download with the pinned sha256 gave."""
    record = _records(bin_dir).get(item.name, {})
    binary = bin_dir / item.name
    return (record.get("version") == item.version and record.get("download_sha256") == sha
            and binary.is_file() and file_sha256(binary) == record.get("binary_sha256"))


def _download(url: str, into: Path) -> str:
    """Stream `url` into the file `into`; the sha256 of what arrived."""
    digest = hashlib.sha256()
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=DOWNLOAD_TIMEOUT) as response:
            if response.status_code != 200:
                raise UserError(f"download of {url} failed: HTTP {response.status_code}",
                                "check the address (or --mirror) and the network, then run the same command again")
            with into.open("wb") as out:
                for chunk in response.iter_bytes(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
    except httpx.HTTPError as exc:
        raise UserError(f"download of {url} failed: {type(exc).__name__}: {exc}",
                        "check the address (or --mirror) and the network, then run the same command again") from None
    return digest.hexdigest()


def _binary_bytes(item: Release, download: Path) -> bytes:
    if item.member is None:
        return download.read_bytes()
    try:
        with tarfile.open(download, "r:gz") as archive:
            extracted = archive.extractfile(item.member)
            if extracted is None:
                raise KeyError(item.member)
            return extracted.read()
    except (tarfile.TarError, KeyError, OSError) as exc:
        raise UserError(f"{item.name} {item.version}: the verified archive has no {item.member} ({exc})",
                        "the release layout changed: update automation/core/tools.py") from None


def install(runner: Runner, item: Release, sha: str, bin_dir: Path, mirror: str | None = None) -> Path:
    """Download, verify, then (only then) place the binary, executable, in bin_dir."""
    target = bin_dir / item.name
    if installed(item, sha, bin_dir):
        runner.ok(f"{item.name} {item.version} already in {rel(target)} (sha256 verified): nothing downloaded")
        return target
    source = item.source(mirror)
    if runner.dry_run:
        runner.plan(f"download {source}, check sha256 {sha[:12]}..., install {rel(target)}")
        return target
    bin_dir.mkdir(parents=True, exist_ok=True)
    runner.say(f"    download {source}")
    with tempfile.TemporaryDirectory(prefix=".download-", dir=bin_dir.parent) as tmp:
        download = Path(tmp) / "download"
        got = _download(source, download)
        if got != sha:
            raise UserError(
                f"{item.name} {item.version} ({item.platform}): sha256 mismatch for {source}: got {got}, pinned "
                f"{sha}; refused, nothing installed",
                "the file was altered or is another release: do not use it; check the source (or --mirror)")
        binary = _binary_bytes(item, download)
        staged = Path(tmp) / item.name
        staged.write_bytes(binary)
        staged.chmod(0o755)  # executable only now, after the check
        os.replace(staged, target)
    records = _records(bin_dir)
    records[item.name] = {"version": item.version, "download_sha256": sha,
                          "binary_sha256": hashlib.sha256(binary).hexdigest(), "source": source}
    (bin_dir / RECORD).write_text(json.dumps(records, indent=2, sort_keys=True) + "\n")
    runner.ok(f"{item.name} {item.version} installed in {rel(target)} (sha256 {sha[:12]}... verified)")
    return target


def install_pinned(runner: Runner, names: tuple[str, ...] = PINNED_TOOLS, *, mirror: str | None = None,
                   bin_dir: Path = TOOLS_BIN, target_platform: str | None = None,
                   checksums: Mapping[tuple[str, str], Mapping[str, str]] = TOOL_SHA256) -> list[Path]:
    """Every named tool at its pinned version; each checksum is looked up before anything is downloaded."""
    where = target_platform or current_platform()
    items = [release(name, where) for name in names]
    pinned = [(item, pinned_sha256(item, checksums)) for item in items]
    return [install(runner, item, sha, bin_dir, mirror) for item, sha in pinned]
