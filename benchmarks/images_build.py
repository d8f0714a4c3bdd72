"""Worker images, end to end, in one run (medians):

    nox -s benchmark -- images_build --target ci --base-image local/worker-base:bookworm-py311 [--runs 3]

1. cold build of pandas-basic, no layer cache: uv on BuildKit (the default; wheel cache emptied first, then kept)
   against the former build (pip in one stage, classic builder); uv on the classic builder and pip on BuildKit
   are printed too, so the installer's and the builder's shares are both seen;
2. one requirement added (a different one each run, re-locked before the clock starts): rebuilt, pushed to the
   target's registry and pulled by the node, as a pod importing it sees it;
3. an unchanged `images` run (the command as users run it);
4. the changed image delivered by layers (push + the kubelet's own pull time) against the full copy
   (`images.command`, `docker save | import`) of the same image;
5. the physical floor of a cold build: the wheels' bytes over the bandwidth measured here, plus unpacking them.

Targets: cold uv >= 3x faster than pip; one requirement added <= 15 s; unchanged <= 1 s; by layers <= 1/3 of
the full import.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from automation.core.runner import Runner  # noqa: E402
from automation.images.build import BuildOptions, BuildReport, Image, build, discover  # noqa: E402
from automation.images.delivery import ImageLoader, loader_for  # noqa: E402
from automation.images.registry_api import manifest_exists  # noqa: E402
from automation.providers.cluster import Cluster  # noqa: E402
from automation.settings import Target, load_target  # noqa: E402

IMAGE = "pandas-basic"
# One of these is appended to requirements.in per run: small, pure-Python, not in pandas-basic's lock. Each run
# takes one this machine never built, since a change built before is only a cache hit.
ADDED = [f"{name}=={version}" for name, versions in (
    ("tabulate", ["0.9.0", "0.10.0"]),
    ("humanize", ["4.0.0", "4.1.0", "4.2.0", "4.3.0", "4.4.0", "4.5.0", "4.6.0", "4.7.0", "4.8.0", "4.9.0"]),
    ("cachetools", ["5.0.0", "5.1.0", "5.2.0", "5.3.0", "5.4.0", "5.5.0"]),
    ("tenacity", ["8.0.0", "8.1.0", "8.2.0", "8.3.0", "8.4.0", "8.5.0", "9.0.0"]),
    ("toolz", ["0.11.2", "0.12.0", "0.12.1", "1.0.0"]),
) for version in versions]


def median(values: list[float]) -> float:
    return statistics.median(values)


def show(name: str, values: list[float], note: str = "") -> float:
    m = median(values)
    print(f"{name}: median {m:.1f}s of {[round(v, 1) for v in values]}{note}", flush=True)
    return m


def quiet() -> Runner:
    return Runner(out=io.StringIO())


def build_timed(image: Image, options: BuildOptions, ref: str) -> tuple[float, BuildReport]:
    subprocess.run(["docker", "rmi", "-f", ref], capture_output=True)
    t0 = time.monotonic()
    report = build(quiet(), image, ref, options)
    return time.monotonic() - t0, report


# name -> (installer, builder). Each run starts with an empty wheel cache, so the first entry downloads every
# wheel and the uv builds after it find them kept (pip downloads inside its build either way).
COLD = {
    "uv, BuildKit, empty wheel cache": ("uv", "buildkit"),
    "uv, BuildKit, wheels cached": ("uv", "buildkit"),
    "uv, classic builder, wheels cached": ("uv", "classic"),
    "pip, classic builder (the former build)": ("pip", "classic"),
    "pip, BuildKit": ("pip", "buildkit"),
}


def cold(options: BuildOptions, runs: int) -> dict[str, list[float]]:
    """Each way of COLD, in its order, without any layer cache."""
    image = discover()[IMAGE]
    times: dict[str, list[float]] = {name: [] for name in COLD}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache:
            os.environ["AUTOMATION_CACHE_DIR"] = cache  # the first uv build below starts with no wheel kept
            for name, (installer, builder) in COLD.items():
                seconds, report = build_timed(image, BuildOptions(**{**options.__dict__, "no_cache": True,
                                                                     "installer": installer, "builder": builder}),
                                              f"{IMAGE}-bench:{installer}-{builder}")
                times[name].append(seconds)
                print(f"  {name}: {seconds:.1f}s ({report.line()})", flush=True)
            os.environ.pop("AUTOMATION_CACHE_DIR")
    for installer, builder in COLD.values():
        subprocess.run(["docker", "rmi", "-f", f"{IMAGE}-bench:{installer}-{builder}"], capture_output=True)
    return times


def with_added(folder: Path, package: str) -> tuple[Image, float]:
    """pandas-basic plus one requirement at the end of requirements.in, re-locked as the README says."""
    source = discover()[IMAGE].folder
    shutil.copytree(source, folder)
    with (folder / "requirements.in").open("a") as f:
        f.write(f"{package}\n")
    t0 = time.monotonic()
    subprocess.run(["uv", "pip", "compile", "requirements.in", "--universal", "--generate-hashes",
                    "--python-version", "3.11", "--no-header", "--quiet", "-o", "requirements.lock"],
                   cwd=folder, check=True, capture_output=True)
    return Image(folder.name, folder), time.monotonic() - t0


def cluster_of(target: Target) -> Cluster | None:
    from automation.providers import provider_for

    return provider_for(quiet(), target).cluster


def loader(target: Target, runner: Runner | None = None) -> ImageLoader:
    return loader_for(runner or quiet(), target, cluster_of(target))


def kubectl(target: Target, *args: str, check: bool = True) -> str:
    cluster = cluster_of(target)
    assert cluster is not None, f"target {target.name} has no cluster this machine reaches"
    flags = cluster.kubectl_args()  # the target's kubeconfig and context, as `up` uses them
    return subprocess.run(["kubectl", *flags, *args], capture_output=True, text=True, check=check,
                          timeout=600).stdout


def pod_pull(target: Target, namespace: str, image: str, code: str) -> float:
    """Runs `code` in `image` to completion; returns the kubelet's own pull time (0 when none was needed)."""
    pod = f"bench-{uuid.uuid4().hex[:8]}"
    kubectl(target, "-n", namespace, "run", pod, f"--image={image}", "--restart=Never",
            "--image-pull-policy=IfNotPresent", "--command", "--", "python", "-c", code)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        phase = kubectl(target, "-n", namespace, "get", "pod", pod, "-o", "jsonpath={.status.phase}")
        if phase in ("Succeeded", "Failed"):
            break
        time.sleep(0.5)
    events = kubectl(target, "-n", namespace, "get", "events", "--field-selector", f"involvedObject.name={pod}",
                     "-o", "jsonpath={range .items[*]}{.message}{'\\n'}{end}")
    if phase != "Succeeded":
        sys.exit(f"pod {pod} in {image}: {phase}\n{events}")
    kubectl(target, "-n", namespace, "delete", "pod", pod, "--wait=false")
    pulled = re.search(r"Successfully pulled image .* in ([0-9.]+)(ms|s) ", events)
    if not pulled:
        return 0.0
    return float(pulled.group(1)) / (1000 if pulled.group(2) == "ms" else 1)


def one_requirement(target: Target, options: BuildOptions, runs: int, namespace: str,
                    changed: list[str]) -> tuple[list[float], list[float], list[float], list[float]]:
    """(re-lock, build, push, pull) per run, each run adding a different requirement."""
    relock, builds, pushes, pulls = [], [], [], []
    # The unchanged image first, as a user's cluster would have it.
    base = discover()[IMAGE]
    base_ref = f"{IMAGE}:{base.tag(options)}"
    # Rebuilt from the builder's cache (seconds): its layers are then the ones the changed images below reuse.
    build_timed(base, options, base_ref)
    loader(target).load(base_ref)
    # The node holds the current image, as a cluster that ran it does: a changed one then pulls only what is new.
    pod_pull(target, namespace, loader(target).ref_in_cluster(base_ref), "import pandas")
    candidates = iter(ADDED)
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            for package in candidates:
                image, seconds = with_added(Path(tmp) / f"{IMAGE}-plus-{package.split('==')[0]}", package)
                ref = f"{image.name}:{image.tag(options)}"
                built = subprocess.run(["docker", "image", "inspect", ref], capture_output=True).returncode == 0
                if not built and not manifest_exists(f"{target.images.push_registry()}/{ref}"):
                    break
                shutil.rmtree(image.folder)
            else:
                sys.exit("every requirement change of ADDED was built here before: add more to ADDED")
            relock.append(seconds)
            seconds, report = build_timed(image, options, ref)
            builds.append(seconds)
            t0 = time.monotonic()
            out = io.StringIO()
            loader(target, Runner(out=out)).load(ref)
            pushes.append(time.monotonic() - t0)
            pushed = re.search(r"(\d+) layer\(s\) pushed, (\d+) already", out.getvalue())
            module = package.split("==")[0]
            pulls.append(pod_pull(target, namespace, loader(target).ref_in_cluster(ref),
                                  f"import {module}"))
            print(f"  + {package}: re-lock {relock[-1]:.1f}s, build {builds[-1]:.1f}s ({report.line()}), push "
                  f"{pushes[-1]:.1f}s ({pushed.group(1) if pushed else '?'} layers sent, "
                  f"{pushed.group(2) if pushed else '?'} present), node pull {pulls[-1]:.1f}s", flush=True)
            changed.append(ref)
            shutil.rmtree(image.folder)
    return relock, builds, pushes, pulls


def full_import(target: Target, refs: list[str]) -> list[float]:
    """The same changed images copied whole with the target's `images.command` (CI: docker save | ctr import)."""
    template = target.images.command
    if not template:
        return []
    times = []
    for ref in refs:
        t0 = time.monotonic()
        subprocess.run(["bash", "-o", "pipefail", "-c", template.replace("{image}", ref)], check=True,
                       capture_output=True, timeout=1800)
        times.append(time.monotonic() - t0)
    return times


def unchanged(options: BuildOptions, runs: int) -> list[float]:
    args = [sys.executable, "-m", "automation", "images", "--build-only", "--only", IMAGE]
    args += ["--base-image", options.base_image] if options.base_image else []
    with tempfile.TemporaryDirectory() as tmp:
        args += ["--tags-file", str(Path(tmp) / "images.json")]
        subprocess.run(args, cwd=REPO, check=True, capture_output=True, timeout=3600)
        times = []
        for _ in range(runs):
            t0 = time.monotonic()
            out = subprocess.run(args, cwd=REPO, check=True, capture_output=True, text=True)
            times.append(time.monotonic() - t0)
            assert "docker build" not in out.stdout, out.stdout
    return times


def floor(options: BuildOptions) -> tuple[float, float, float, float]:
    """(MB of wheels, MB/s measured, seconds to unpack them, the floor in seconds)."""
    from automation.images.base_python import base_python
    from automation.images.lock import read_lock
    from automation.images.wheelhouse import Wheelhouse, wheels_for

    folder = discover()[IMAGE].folder
    python = base_python(quiet(), options.base)
    entries = read_lock(folder / "requirements.lock")
    with tempfile.TemporaryDirectory() as cache:
        house = Wheelhouse(Path(cache) / "wheels")
        t0 = time.monotonic()
        wheels, _ = wheels_for(quiet(), entries, python, house=house)
        fetch = time.monotonic() - t0
        size = sum(w.stat().st_size for w in wheels.values()) / 1e6
        # Bandwidth from the largest wheel alone, fetched again by plain HTTP (no pip start-up in it).
        largest = max(wheels.values(), key=lambda w: w.stat().st_size)
        url = _pypi_url(largest.name)
        if url:
            t0 = time.monotonic()
            body = httpx.get(url, timeout=120, follow_redirects=True).content
            bandwidth = len(body) / 1e6 / (time.monotonic() - t0)
        else:
            bandwidth = size / fetch
        t0 = time.monotonic()
        target = Path(cache) / "unpacked"
        for wheel in wheels.values():
            with zipfile.ZipFile(wheel) as z:
                z.extractall(target)
        unpack = time.monotonic() - t0
    return size, bandwidth, unpack, size / bandwidth + unpack


def _pypi_url(filename: str) -> str | None:
    try:
        files = httpx.get(f"https://pypi.org/pypi/{filename.split('-')[0]}/json", timeout=30).json()["urls"]
    except (httpx.HTTPError, ValueError, KeyError):
        return None
    return next((f["url"] for f in files if f["filename"] == filename), None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", default=None, help="a target delivering by registry (CI: ci)")
    parser.add_argument("--base-image", default=None)
    parser.add_argument("--ca-bundle", type=Path, default=None, help="a proxy's CA (pip downloads in its build)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-cold", action="store_true")
    args = parser.parse_args()
    options = BuildOptions(base_image=args.base_image, ca_bundle=args.ca_bundle)
    print(f"worker image {IMAGE}, base {options.base}, {args.runs} runs each", flush=True)
    if args.target:
        target = load_target(args.target)
        namespace = f"images-bench-{uuid.uuid4().hex[:6]}"
        kubectl(target, "create", "namespace", namespace)
        try:
            changed: list[str] = []
            relock, builds, pushes, pulls = one_requirement(target, options, args.runs, namespace, changed)
            total = [b + p + q for b, p, q in zip(builds, pushes, pulls, strict=True)]
            show("one requirement added: re-lock (before the clock)", relock)
            show("one requirement added: build + push + node pull", total,
                     f" (target <= 15 s: {'ok' if median(total) <= 15 else 'above target'})")
            layers = [p + q for p, q in zip(pushes, pulls, strict=True)]
            full = full_import(target, changed)
            by_layers = show("changed image by layers (push + node pull)", layers)
            if full:
                whole = show("changed image copied whole (images.command)", full)
                print(f"  by layers / whole = {by_layers / whole:.2f} (target <= 0.33: "
                      f"{'ok' if by_layers / whole <= 1 / 3 else 'above target'})", flush=True)
        finally:
            kubectl(target, "delete", "namespace", namespace, "--wait=false", check=False)
    if not args.skip_cold:
        medians = {name: show(f"cold build, {name}", values) for name, values in cold(options, args.runs).items()}
        names = list(COLD)
        empty, cached, classic, former, pip_kit = (medians[n] for n in names)
        print(f"  former/uv = {former / empty:.2f}x with an empty wheel cache, {former / cached:.2f}x with it kept "
              f"(target >= 3x: {'ok' if former / empty >= 3 else 'below target'}); the installer alone, both on "
              f"BuildKit: pip/uv = {pip_kit / cached:.2f}x; the builder alone, uv: classic/BuildKit = "
              f"{classic / cached:.2f}x", flush=True)
    show("unchanged `images` run", unchanged(options, args.runs),
         " (target <= 1 s)")
    size, bandwidth, unpack, total_floor = floor(options)
    print(f"physical floor of a cold build: {size:.0f} MB of wheels / {bandwidth:.0f} MB/s + unpacking "
          f"{unpack:.1f}s = {total_floor:.1f}s", flush=True)


if __name__ == "__main__":
    main()
