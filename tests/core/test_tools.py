"""`tools`: pinned release files from a real HTTP server (a thread on 127.0.0.1), checked against their
sha256 before anything is installed: a good file installs once, a tampered one is refused and leaves nothing."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from automation.core import prereqs
from automation.core import process as process_module
from automation.core.errors import UserError
from automation.core.paths import REPO_ROOT, TOOLS_BIN
from automation.core.runner import Runner
from automation.core.tools import RECORD, install_pinned, release
from automation.core.versions import TOOL_SHA256, VERSIONS
from tests.conftest import run_cli

PLATFORM = "linux-amd64"


class Mirror:
    """A folder served over HTTP, laid out as the official release paths; counts the requests."""

    def __init__(self, root: Path):
        self.root = root
        self.requests: list[str] = []
        mirror = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep the test output clean
                pass

            def do_GET(self) -> None:
                mirror.requests.append(self.path)
                super().do_GET()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def put(self, name: str, content: bytes) -> str:
        """Serve `content` where the official URL of tool `name` has its file; its sha256."""
        path = self.root / release(name, PLATFORM).url.split("://", 1)[1].split("/", 1)[1]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return hashlib.sha256(content).hexdigest()


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Mirror]:
    served = Mirror(tmp_path / "served")
    yield served
    served.server.shutdown()
    served.server.server_close()


def helm_archive(binary: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(f"{PLATFORM}/helm")
        info.size = len(binary)
        archive.addfile(info, io.BytesIO(binary))
    return buffer.getvalue()


def pins(**sha: str) -> dict[tuple[str, str], dict[str, str]]:
    return {(name, getattr(VERSIONS, name)): {PLATFORM: value} for name, value in sha.items()}


def test_a_good_file_installs_executable_and_a_rerun_downloads_nothing(mirror: Mirror, tmp_path: Path) -> None:
    binary = b"#!/bin/sh\necho minikube version: v1.38.1\n"
    sha = mirror.put("minikube", binary)
    bin_dir = tmp_path / "tools" / "bin"
    out = io.StringIO()
    install_pinned(Runner(out=out), ("minikube",), mirror=mirror.url, bin_dir=bin_dir, target_platform=PLATFORM,
                   checksums=pins(minikube=sha))
    installed = bin_dir / "minikube"
    assert installed.read_bytes() == binary
    assert os.access(installed, os.X_OK)
    assert mirror.requests == [f"/minikube/releases/{VERSIONS.minikube}/minikube-{PLATFORM}"]
    assert "installed in" in out.getvalue() and sha[:12] in out.getvalue()

    again = io.StringIO()
    install_pinned(Runner(out=again), ("minikube",), mirror=mirror.url, bin_dir=bin_dir, target_platform=PLATFORM,
                   checksums=pins(minikube=sha))
    assert len(mirror.requests) == 1, "a verified install is not downloaded again"
    assert "nothing downloaded" in again.getvalue()


def test_a_tampered_file_is_refused_and_nothing_is_installed(mirror: Mirror, tmp_path: Path) -> None:
    good = b"the kubectl release\n"
    mirror.put("kubectl", b"the kubectl release, with a backdoor\n")
    bin_dir = tmp_path / "tools" / "bin"
    with pytest.raises(UserError) as refused:
        install_pinned(Runner(out=io.StringIO()), ("kubectl",), mirror=mirror.url, bin_dir=bin_dir,
                       target_platform=PLATFORM, checksums=pins(kubectl=hashlib.sha256(good).hexdigest()))
    line = refused.value.line()
    assert "\n" not in line
    assert f"kubectl {VERSIONS.kubectl} ({PLATFORM}): sha256 mismatch" in line
    assert "refused, nothing installed" in line
    assert not (bin_dir / "kubectl").exists() and not (bin_dir / RECORD).exists()
    assert [p.name for p in bin_dir.parent.iterdir()] == ["bin"], "no download left behind"


def test_a_binary_changed_after_install_is_replaced(mirror: Mirror, tmp_path: Path) -> None:
    sha = mirror.put("minikube", b"good minikube\n")
    bin_dir = tmp_path / "bin"
    kwargs = {"mirror": mirror.url, "bin_dir": bin_dir, "target_platform": PLATFORM, "checksums": pins(minikube=sha)}
    install_pinned(Runner(out=io.StringIO()), ("minikube",), **kwargs)  # type: ignore[arg-type]
    (bin_dir / "minikube").write_bytes(b"swapped\n")
    install_pinned(Runner(out=io.StringIO()), ("minikube",), **kwargs)  # type: ignore[arg-type]
    assert (bin_dir / "minikube").read_bytes() == b"good minikube\n"
    assert len(mirror.requests) == 2


def test_helm_is_taken_out_of_its_verified_archive(mirror: Mirror, tmp_path: Path) -> None:
    binary = b"#!/bin/sh\necho v3.19.0\n"
    sha = mirror.put("helm", helm_archive(binary))
    bin_dir = tmp_path / "bin"
    install_pinned(Runner(out=io.StringIO()), ("helm",), mirror=mirror.url, bin_dir=bin_dir,
                   target_platform=PLATFORM, checksums=pins(helm=sha))
    assert (bin_dir / "helm").read_bytes() == binary
    assert os.access(bin_dir / "helm", os.X_OK)


def test_an_unpinned_platform_is_refused_before_any_download(mirror: Mirror, tmp_path: Path) -> None:
    mirror.put("helm", b"anything")
    with pytest.raises(UserError) as refused:
        install_pinned(Runner(out=io.StringIO()), ("minikube", "helm"), mirror=mirror.url, bin_dir=tmp_path / "b",
                       target_platform="linux-riscv64")
    assert "no sha256 is pinned for minikube" in refused.value.problem
    assert "TOOL_SHA256 in automation/core/versions.py" in (refused.value.fix or "")
    assert mirror.requests == []


def test_dry_run_plans_and_downloads_nothing(mirror: Mirror, tmp_path: Path) -> None:
    out = io.StringIO()
    install_pinned(Runner(dry_run=True, out=out), mirror=mirror.url, bin_dir=tmp_path / "bin",
                   target_platform=PLATFORM)
    assert mirror.requests == [] and not (tmp_path / "bin").exists()
    assert out.getvalue().count("[dry-run] download") == 3
    assert TOOL_SHA256[("helm", VERSIONS.helm)][PLATFORM][:12] in out.getvalue()


def test_the_command_refuses_a_tampered_release_with_one_line(mirror: Mirror) -> None:
    """The real pinned checksum, a file that is not the release: exit 2, one line, nothing installed."""
    mirror.put("kubectl", b"not kubectl\n")
    had = (TOOLS_BIN / "kubectl").exists()
    result = run_cli("tools", "kubectl", "--mirror", mirror.url, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: kubectl"), result.stderr
    assert "sha256 mismatch" in lines[0] and "Traceback" not in result.stderr
    assert (TOOLS_BIN / "kubectl").exists() == had


def test_the_project_copy_runs_before_path_and_up_says_where_it_is(tmp_path: Path, monkeypatch) -> None:
    local = tmp_path / "bin"
    local.mkdir()
    fake = local / "helm"
    fake.write_text("#!/bin/sh\necho 'v3.19.0+g3d8990f'\n")
    fake.chmod(0o755)
    monkeypatch.setattr(process_module, "TOOLS_BIN", local)
    monkeypatch.setattr(prereqs, "TOOLS_BIN", local)
    runner = Runner(out=io.StringIO())
    assert runner.which("helm") == str(fake)
    assert runner.read(["helm", "version", "--short"]).stdout.strip() == "v3.19.0+g3d8990f"
    prereqs.check(runner, ("helm",))
    assert f"helm 3.19.0 ({fake}, project copy from `automation tools`)" in runner.out.getvalue()  # type: ignore[attr-defined]


def test_path_binaries_are_reported_as_such() -> None:
    assert prereqs.source("/usr/bin/sh") == "/usr/bin/sh, from PATH"
    assert prereqs.source(str(REPO_ROOT / ".tools" / "bin" / "helm")).startswith(".tools/bin/helm, project copy")
