"""The task launcher every worker image carries (at /opt/automation/launch.py, dags/common/contract.py LAUNCHER).

    python /opt/automation/launch.py --code-root ROOT SCRIPT [ARGS...]

runs SCRIPT (a path relative to the DAGs folder, e.g. example1/scripts/extract.py) as `__main__`, with its
folder first on sys.path, from ROOT: a folder in the pod (the DAGs mount: an edited script is used by the next
run, no rebuild), or an object-store URL such as gs://BUCKET/dags (Cloud Composer 3, where task pods get no
volumes), from which the script's project folder is copied first. Standard library only, plus fsspec for URLs.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
import tempfile
import time


def fetch(root: str, folder: str, dest: str) -> int:
    """Copy every file under ROOT/FOLDER to DEST/FOLDER; how many were copied."""
    import fsspec

    fs, base = fsspec.core.url_to_fs(f"{root.rstrip('/')}/{folder}")
    base = base.rstrip("/")
    copied = 0
    for remote in fs.find(base):
        relative = remote[len(base):].lstrip("/")
        if not relative or "__pycache__" in relative.split("/"):
            continue
        local = os.path.join(dest, folder, *relative.split("/"))
        os.makedirs(os.path.dirname(local), exist_ok=True)
        fs.get_file(remote, local)
        copied += 1
    return copied


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="launch.py", description=__doc__.splitlines()[0])
    parser.add_argument("--code-root", required=True, help="the DAGs folder: a path, or gs://BUCKET/dags")
    parser.add_argument("script", help="the task script, relative to the code root")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    options = parser.parse_args(argv)
    script = options.script
    if script.startswith("/") or ".." in script.split("/"):
        raise SystemExit(f"launch.py: script {script!r} must be a path relative to the code root")
    root = options.code_root
    if "://" in root:
        started = time.monotonic()
        local_root = tempfile.mkdtemp(prefix="task-code-")
        project = script.split("/", 1)[0]
        copied = fetch(root, project, local_root)
        print(f"launch.py: {copied} files of {root.rstrip('/')}/{project} fetched in "
              f"{time.monotonic() - started:.1f}s", flush=True)
        root = local_root
    path = os.path.join(root, *script.split("/"))
    if not os.path.isfile(path):
        raise SystemExit(f"launch.py: task script {script} not found under {options.code_root}")
    sys.argv = [path, *options.args]
    sys.path.insert(0, os.path.dirname(path))
    runpy.run_path(path, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
