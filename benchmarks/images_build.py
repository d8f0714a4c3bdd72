"""Worker image builds: cold build of pandas-basic with uv vs pip, and an unchanged `images` run.

    python benchmarks/images_build.py [--base-image IMAGE] [--ca-bundle FILE] [--runs 3]

Targets: uv at least 3x faster than pip cold; an unchanged run at most 1 s (median).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from automation.core.runner import Runner  # noqa: E402
from automation.images.build import BuildOptions, build, discover  # noqa: E402


def cold(image_name: str, installer: str, base: str | None, ca: Path | None) -> float:
    """A build with no layer cache and no package cache: every wheel downloaded and installed."""
    ref = f"{image_name}-bench:{installer}"
    subprocess.run(["docker", "rmi", "-f", ref], capture_output=True)
    options = BuildOptions(base_image=base, ca_bundle=ca, installer=installer, no_cache=True)
    t0 = time.monotonic()
    with open("/dev/null", "w") as quiet:
        build(Runner(out=quiet), discover()[image_name], ref, options)
    seconds = time.monotonic() - t0
    subprocess.run(["docker", "rmi", "-f", ref], capture_output=True)
    return seconds


def unchanged(base: str | None, ca: Path | None, runs: int) -> list[float]:
    args = [sys.executable, "-m", "automation", "images", "--build-only", "--only", "pandas-basic"]
    args += ["--base-image", base] if base else []
    args += ["--ca-bundle", str(ca)] if ca else []
    with tempfile.TemporaryDirectory() as tmp:
        args += ["--tags-file", str(Path(tmp) / "images.json")]
        subprocess.run(args, cwd=REPO, check=True, capture_output=True, timeout=3600)  # make sure it exists
        times = []
        for _ in range(runs):
            t0 = time.monotonic()
            out = subprocess.run(args, cwd=REPO, check=True, capture_output=True, text=True)
            times.append(time.monotonic() - t0)
            assert "docker build" not in out.stdout, out.stdout
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-image", default=None)
    parser.add_argument("--ca-bundle", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-cold", action="store_true")
    args = parser.parse_args()
    if not args.skip_cold:
        uv = cold("pandas-basic", "uv", args.base_image, args.ca_bundle)
        pip = cold("pandas-basic", "pip", args.base_image, args.ca_bundle)
        verdict = "ok" if pip / uv >= 3 else "below target"
        print(f"cold build pandas-basic: uv {uv:.1f}s, pip {pip:.1f}s, pip/uv = {pip / uv:.2f}x "
              f"(target >= 3x: {verdict})")
    times = unchanged(args.base_image, args.ca_bundle, args.runs)
    median = statistics.median(times)
    print(f"unchanged `images` run: median {median:.2f}s of {[round(t, 2) for t in times]} "
          f"(target <= 1 s: {'ok' if median <= 1 else 'above target'})")


if __name__ == "__main__":
    main()
