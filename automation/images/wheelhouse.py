"""The wheels of the worker images, kept on this machine between builds (the package cache that survives them).

The classic builder (Docker without BuildKit) has no cache mounts, so the cache lives here and each build gets
the wheels it needs in its context. Wheels are fetched by pip (`pip download --require-hashes`: the lock's
hashes are checked before a file is kept), for the base image's Python and platform, several pips at once;
uv then installs them inside the build with no index at all, checking the same hashes again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from automation.core.errors import UserError
from automation.core.paths import cache_dir
from automation.core.runner import Runner
from automation.images.base_python import BasePython
from automation.images.lock import LockEntry

# Parallel pips: downloads are latency-bound per file, and a pip spends a second starting.
DOWNLOAD_WORKERS = 6


def wheelhouse_dir() -> Path:
    return cache_dir() / "wheels"


def entry_hashes(entry: LockEntry) -> set[str]:
    return {part.split(":", 1)[1] for part in entry.text.split() if part.startswith("--hash=sha256:")}


def applies(entry: LockEntry, python: BasePython) -> bool:
    """Whether the entry's environment marker holds for the base image's Python (the lock serves several)."""
    first = entry.text.split("\n", 1)[0].rstrip(" \\")
    if ";" not in first:
        return True
    return Marker(first.split(";", 1)[1].strip()).evaluate(python.marker_environment())


@dataclass
class Wheelhouse:
    root: Path

    @property
    def _index_file(self) -> Path:
        return self.root / "index.json"

    def _index(self) -> dict[str, str]:
        """sha256 -> file name, for every wheel kept."""
        try:
            return dict(json.loads(self._index_file.read_text()))
        except (OSError, ValueError):
            return {}

    def select(self, entries: Iterable[LockEntry], python: BasePython) -> tuple[dict[str, Path], list[LockEntry]]:
        """For each entry that applies: the kept wheel that fits `python` best (by name), and the entries that
        have none yet."""
        index = self._index()
        rank = {tag: i for i, tag in enumerate(python.supported_tags)}
        chosen: dict[str, Path] = {}
        missing: list[LockEntry] = []
        for entry in entries:
            if not applies(entry, python):
                continue
            best: tuple[int, str] | None = None
            for digest in entry_hashes(entry):
                name = index.get(digest)
                if name is None or not (self.root / name).is_file():
                    continue
                try:
                    wheel_tags = parse_wheel_filename(name)[3]
                except InvalidWheelFilename:
                    continue
                fit = min((rank[t] for t in wheel_tags if t in rank), default=None)
                if fit is not None and (best is None or fit < best[0]):
                    best = (fit, name)
            if best is None:
                missing.append(entry)
            else:
                chosen[entry.name] = self.root / best[1]
        return chosen, missing

    def fetch(self, runner: Runner, entries: list[LockEntry], python: BasePython,
              ca_bundle: Path | None = None) -> None:
        """Download the entries' wheels for `python`, hashes checked, several pips at once; keep them here."""
        if not entries:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        # A proxy's CA: pip trusts it for these downloads only (the lock's hashes are checked either way).
        env = {**os.environ, "PIP_CERT": str(ca_bundle)} if ca_bundle else None
        chunks = [entries[i::DOWNLOAD_WORKERS] for i in range(min(DOWNLOAD_WORKERS, len(entries)))]
        with tempfile.TemporaryDirectory(dir=self.root, prefix=".download-") as tmp:
            def one(i: int) -> Path:
                folder = Path(tmp) / str(i)
                folder.mkdir()
                lock = folder / "requirements.lock"
                lock.write_text("".join(e.text for e in chunks[i]))
                runner.run(self._pip_download(python, lock, folder / "wheels"), mutates=False,
                           quiet=not runner.verbose, timeout=1800, env=env,
                           fix="a package of the lock has no wheel for the base image's Python and platform, or "
                               "the index is not reachable: check the last line above (a proxy's CA: "
                               "PIP_CERT=FILE)")
                return folder / "wheels"

            with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
                folders = list(pool.map(one, range(len(chunks))))
            index = self._index()
            for folder in folders:
                for wheel in folder.glob("*.whl"):
                    index[hashlib.sha256(wheel.read_bytes()).hexdigest()] = wheel.name
                    os.replace(wheel, self.root / wheel.name)
            staged = self._index_file.with_suffix(".tmp")
            staged.write_text(json.dumps(index, indent=0, sort_keys=True))
            os.replace(staged, self._index_file)

    @staticmethod
    def _pip_download(python: BasePython, lock: Path, dest: Path) -> list[str]:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
               "--require-hashes", "--only-binary=:all:", "--implementation", "cp", "--python-version",
               python.version, "--abi", python.abi, "--dest", str(dest), "--requirement", str(lock)]
        for platform in python.platforms:
            cmd += ["--platform", platform]
        return cmd


def wheels_for(runner: Runner, entries: list[LockEntry], python: BasePython, *, ca_bundle: Path | None = None,
               house: Wheelhouse | None = None) -> tuple[dict[str, Path], int]:
    """Every applicable entry's wheel, fetched first when not kept yet. Returns (name -> wheel, entries fetched)."""
    house = house or Wheelhouse(wheelhouse_dir())
    chosen, missing = house.select(entries, python)
    if missing:
        house.fetch(runner, missing, python, ca_bundle)
        chosen, still = house.select(entries, python)
        if still:
            raise UserError(f"no wheel of {still[0].name} fits the base image's Python {python.version} "
                            f"({python.platforms[0]})",
                            "pin a version that publishes one, or give the image a Dockerfile of its own")
    return chosen, len(missing)
