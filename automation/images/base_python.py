"""What a base image's Python is (version, C library, machine, where a venv keeps its packages), asked of the
image itself once and remembered by image id: the wheels fetched on this machine must fit that Python."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

from packaging import tags

from automation.core.errors import UserError
from automation.core.paths import cache_dir
from automation.core.runner import Runner
from automation.images.engine import inspect_image

# Runs in the base image: a venv made there says where its packages go (Debian's own Python differs from
# python.org's), and the C library decides which manylinux wheels fit.
_PROBE = (
    "import json, platform, subprocess, sys, tempfile\n"
    "d = tempfile.mkdtemp()\n"
    "subprocess.run([sys.executable, '-m', 'venv', '--without-pip', d], check=True)\n"
    "purelib = subprocess.run([d + '/bin/python', '-c', "
    "'import sysconfig; print(sysconfig.get_path(\"purelib\"))'], capture_output=True, text=True, check=True)\n"
    "libc, libc_version = platform.libc_ver()\n"
    "print(json.dumps({'version': '%d.%d' % sys.version_info[:2], 'machine': platform.machine(),\n"
    "  'libc': libc, 'libc_version': libc_version, 'purelib': purelib.stdout.strip()[len(d) + 1:]}))\n"
)
# pip knows no manylinux below this one that still matters; PyPI serves none older for current packages.
_OLDEST_GLIBC_MINOR = 5


@dataclass(frozen=True)
class BasePython:
    version: str  # "3.12"
    machine: str  # "x86_64"
    libc: str  # "glibc"
    libc_version: str  # "2.36"
    purelib: str  # relative to the venv: "lib/python3.12/site-packages"

    @property
    def abi(self) -> str:
        return "cp" + self.version.replace(".", "")

    @cached_property
    def platforms(self) -> list[str]:
        """Wheel platform tags this Python runs, best first (manylinux_2_N down to the oldest, and aliases)."""
        if self.libc != "glibc":
            raise UserError(f"the base image's Python runs on {self.libc or 'an unknown C library'}, not glibc",
                            "use a Debian- or Ubuntu-based base image (images.base_image), or give the image a "
                            "Dockerfile of its own")
        major, minor = (int(p) for p in self.libc_version.split(".")[:2])
        found = [f"manylinux_{major}_{m}_{self.machine}" for m in range(minor, _OLDEST_GLIBC_MINOR - 1, -1)]
        aliases = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
        found += [f"{name}_{self.machine}" for m, name in aliases.items() if m <= minor]
        return [*found, f"linux_{self.machine}"]

    @cached_property
    def supported_tags(self) -> list[tags.Tag]:
        """Every wheel tag this Python installs, most preferred first (packaging's own order)."""
        version = tuple(int(p) for p in self.version.split("."))
        return [*tags.cpython_tags(version, abis=[self.abi], platforms=self.platforms),
                *tags.compatible_tags(version, self.abi, platforms=self.platforms)]

    def marker_environment(self) -> dict[str, str]:
        return {"implementation_name": "cpython", "platform_python_implementation": "CPython",
                "python_version": self.version, "python_full_version": f"{self.version}.0",
                "platform_machine": self.machine, "platform_system": "Linux", "sys_platform": "linux",
                "os_name": "posix", "implementation_version": f"{self.version}.0"}


def _cache_file(image_id: str) -> Path:
    return cache_dir() / "base-python" / f"{image_id.replace(':', '-')}.json"


def base_python(runner: Runner, base: str) -> BasePython:
    """The base image's Python: from the cache when this image id was asked before, else from the image."""
    image = inspect_image(runner, base)
    if image is not None and _cache_file(image.id).is_file():
        return BasePython(**json.loads(_cache_file(image.id).read_text()))
    result = runner.run(["docker", "run", "--rm", "--user", "0", "--entrypoint", "python3", base, "-c", _PROBE],
                        mutates=False, quiet=not runner.verbose, timeout=600,
                        fix=f"the base image {base} must have python3 with venv (images.base_image)")
    try:
        found = BasePython(**json.loads(result.stdout.strip().splitlines()[-1]))
    except (ValueError, TypeError, IndexError):
        raise UserError(f"could not read the Python of the base image {base}",
                        "check that `docker run --rm BASE python3 -m venv /tmp/v` works in it") from None
    image = image or inspect_image(runner, base)
    if image is not None:
        path = _cache_file(image.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(found)))
    return found
