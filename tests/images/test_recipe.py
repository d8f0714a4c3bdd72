"""The rendered Dockerfile: one stage per layer, copied in requirements.in's order, the launcher last (`nox -s
lint` runs hadolint on what it renders for every image)."""

from __future__ import annotations

import re
import subprocess

from automation.images.build import BuildOptions, discover
from automation.images.lock import layers
from automation.images.recipe import FINAL_STAGE, Recipe, template_fingerprint


def _recipe() -> Recipe:
    folder = discover()["pandas-basic"].folder
    split = layers(folder / "requirements.in", folder / "requirements.lock")
    return Recipe("pandas-basic", "python:3.12-slim", tuple(split), "lib/python3.12/site-packages")


def test_one_stage_per_layer_copied_in_order_then_the_launcher() -> None:
    text = _recipe().uv()
    stages = re.findall(r"^FROM (\S+) AS (\S+)$", text, re.MULTILINE)
    names = [layer.name for layer in _recipe().layers]
    assert stages == [("python:3.12-slim", "venv"), *[("venv", f"layer-{i}") for i in range(len(names))],
                      ("python:3.12-slim", FINAL_STAGE)]
    final = text.split(f"AS {FINAL_STAGE}\n", 1)[1]
    copies = re.findall(r"^COPY (\S+) ", final, re.MULTILINE)
    assert copies == [*[f"--from=layer-{i}" for i in range(len(names))], "launch.py"]
    assert re.findall(r"^# layer \d+: (\S+) ", final, re.MULTILINE) == names
    # Each stage installs only its own slice, offline, hashes checked, its wheels bind-mounted (never a layer).
    assert text.count("--offline --no-index") == len(names)
    assert text.count("--require-hashes --no-deps") == len(names)
    assert re.findall(r"--mount=type=bind,source=(\S+),target=/tmp/layer", text) == [
        f"layers/{i}" for i in range(len(names))]
    assert "COPY layers/" not in text
    # pandas' tests go before the bytecode is compiled, so no time is spent compiling them.
    install = text.split("FROM venv AS layer-0\n", 1)[1]
    assert install.index("rm -rf /opt/venv/lib/python3.12/site-packages/pandas/tests") < install.index("compileall")


def test_the_classic_form_copies_the_wheels_in_and_installs_the_same() -> None:
    """Without BuildKit a stage cannot mount: it copies its wheels in and deletes them after; the install command
    itself is the same text, so both builders put the same files in the image."""
    buildkit, classic = _recipe().uv(), _recipe().uv(buildkit=False)
    assert "--mount" not in classic
    names = [layer.name for layer in _recipe().layers]
    assert re.findall(r"^COPY (layers/\d+/) /tmp/layer/$", classic, re.MULTILINE) == [
        f"layers/{i}/" for i in range(len(names))]

    def installs(text: str) -> list[str]:
        return re.findall(r"(UV_NO_CACHE=1 .*?\|\| true; \})", text, re.DOTALL)

    assert installs(classic) == installs(buildkit) and len(installs(classic)) == len(names)
    assert buildkit.split(f"AS {FINAL_STAGE}\n", 1)[1] == classic.split(f"AS {FINAL_STAGE}\n", 1)[1]


def test_the_tag_changes_with_the_recipe_and_the_base() -> None:
    image = discover()["pandas-basic"]
    assert image.tag(BuildOptions()) != image.tag(BuildOptions(base_image="python:3.12-slim"))
    assert image.tag(BuildOptions()) != image.tag(BuildOptions(installer="pip"))
    assert len(template_fingerprint()) > 500


def test_default_base_is_pinned_by_digest() -> None:
    assert re.fullmatch(r"python:[\w.-]+@sha256:[0-9a-f]{64}", BuildOptions().base)




def test_the_uv_copied_into_builds_is_the_pinned_release() -> None:
    """pyproject.toml installs uv with the package; versions.py names it for the tags: the two must agree."""
    import tomllib

    from automation.core.versions import VERSIONS
    from automation.images.build import uv_binary
    from tests.conftest import REPO

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"uv=={VERSIONS.uv}" in deps
    out = subprocess.run([uv_binary(), "--version"], capture_output=True, text=True, check=True).stdout
    assert out.split()[1] == VERSIONS.uv
