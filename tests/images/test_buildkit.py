"""Builds by the engine's BuildKit through its API (automation/images/buildkit.py), on the real Docker engine:
mounts that never become layers, each step timed from BuildKit's own status messages, a failing step named with
its own last line, and the classic builder putting the same files in a worker image."""

from __future__ import annotations

import io
import subprocess
import textwrap
import uuid
from pathlib import Path

import pytest

from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.images import buildkit
from automation.images.build import BuildOptions, Image, build, uv_binary
from tests.conftest import HOST_CA

pytestmark = pytest.mark.docker


def _context(tmp_path: Path, dockerfile: str, files: dict[str, str]) -> Path:
    context = tmp_path / "context"
    for name, text in {"Dockerfile": textwrap.dedent(dockerfile), **files}.items():
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text(text)
    return context


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)


def _kit_build(context: Path, ref: str, runner: Runner) -> buildkit.Trace:
    return buildkit.build(runner, context, ref, labels={"airflow-automation.image": "bk-test"}, build_args={},
                          no_cache=True, shown=f"docker build --tag {ref} {context}", fix="see the test")


def test_mounted_files_never_become_a_layer_and_each_step_is_timed(base_image: str, tmp_path: Path) -> None:
    token = uuid.uuid4().hex
    ref = f"bk-test:{token[:12]}"
    context = _context(tmp_path, f"""\
        FROM {base_image} AS one
        RUN --mount=type=bind,source=data,target=/mnt/data cp /mnt/data/a.txt /a.txt
        FROM {base_image} AS image
        COPY --from=one /a.txt /a.txt
        """, {"data/a.txt": token})
    runner = Runner(out=io.StringIO(), verbose=True)
    try:
        trace = _kit_build(context, ref, runner)
        assert _docker("run", "--rm", ref, "cat", "/a.txt").stdout == token
        assert _docker("run", "--rm", ref, "test", "-e", "/mnt/data/a.txt").returncode == 1
        labels = _docker("image", "inspect", ref, "--format", "{{json .Config.Labels}}").stdout
        assert '"airflow-automation.image":"bk-test"' in labels
    finally:
        _docker("rmi", "-f", ref)
    run = [v for v in trace.steps.values() if v.name.startswith("[one ") and "RUN --mount" in v.name]
    assert len(run) == 1 and not run[0].cached
    assert run[0].started is not None and run[0].completed is not None
    assert trace.started <= run[0].started <= run[0].completed <= trace.ended
    # -v prints each step as it completes, with its time.
    assert "RUN --mount=type=bind,source=data" in runner.out.getvalue()  # type: ignore[attr-defined]
    assert runner.history[-1].cmd[:2] == ["docker", "build"] and runner.history[-1].seconds > 0


def test_a_failing_step_is_one_line_with_its_own_last_words(base_image: str, tmp_path: Path) -> None:
    token = uuid.uuid4().hex
    context = _context(tmp_path, f"""\
        FROM {base_image}
        RUN echo "something earlier" && echo "no such thing: {token}" >&2 && exit 3
        """, {})
    with pytest.raises(UserError) as caught:
        _kit_build(context, f"bk-test:{token[:12]}", Runner(out=io.StringIO()))
    line = caught.value.line()
    assert "\n" not in line
    assert "failed at [" in line and "RUN echo" in line
    assert f"no such thing: {token}" in line
    assert line.endswith("-- see the test")


def _small_image(tmp_path: Path) -> Image:
    """A worker image of two small pure-Python packages, locked with hashes as the README says."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "requirements.in").write_text("six\nidna\n")
    subprocess.run([uv_binary(), "pip", "compile", "requirements.in", "--universal", "--generate-hashes",
                    "--python-version", "3.11", "--no-header", "--quiet", "-o", "requirements.lock"],
                   cwd=folder, check=True, capture_output=True, timeout=300)
    return Image("tiny", folder)


def _venv_files(ref: str) -> list[str]:
    """Every file of the venv with its hash (bytecode by name only: it records its source's mtime), and the user.
    uv writes uv_cache.json (and its line in RECORD) with the wheel file's own timestamp, so those two files
    differ between any two builds of the same lock and are compared by name only too."""
    listed = _docker("run", "--rm", ref, "sh", "-c",
                     "cd /opt/venv && find . -type f ! -name '*.pyc' ! -name uv_cache.json ! -name RECORD "
                     "-exec sha256sum {} + | sort -k2; "
                     "find . -name '*.pyc' -o -name uv_cache.json -o -name RECORD | sort; id -u")
    assert listed.returncode == 0, listed.stderr
    return listed.stdout.splitlines()


def test_both_builders_put_the_same_files_in_a_worker_image(base_image: str, tmp_path: Path) -> None:
    image = _small_image(tmp_path)
    ca = HOST_CA if HOST_CA.is_file() else None
    found = {}
    for builder in ("buildkit", "classic"):
        ref = f"tiny-{builder}:{uuid.uuid4().hex[:12]}"
        runner = Runner(out=io.StringIO())
        try:
            report = build(runner, image, ref, BuildOptions(base_image=base_image, ca_bundle=ca, builder=builder))
            found[builder] = _venv_files(ref)
        finally:
            _docker("rmi", "-f", ref)
        assert set(report.phases) == {"resolve", "download", "install", "export"}
        assert report.layers == ["six", "idna"]
        said = runner.out.getvalue()  # type: ignore[attr-defined]
        assert (buildkit.SHOWN_SUFFIX in said) == (builder == "buildkit")
    assert found["buildkit"] == found["classic"]
    assert found["buildkit"][-1] == "50000"
    assert any(line.endswith("/six.py") for line in found["buildkit"])
    assert any(line.endswith(".pyc") for line in found["buildkit"])  # compiled, as uv's --compile-bytecode did
