"""Run a notebook with papermill and store the executed copy under DATA_ROOT (a folder or gs://).

The executed notebook is written even when a cell fails (it shows where), and the exit code is then non-zero
so the Airflow task fails.

    python run_notebook.py --notebook ../notebooks/report.ipynb --output output/report.ipynb -p min_rows 10
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import papermill
from upath import UPath


def parse_value(text: str) -> object:
    """Numbers and booleans as such, anything else as a string (papermill's -p semantics)."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notebook", required=True, help="path, relative to this script's project folder")
    parser.add_argument("--output", required=True, help="executed notebook, relative to DATA_ROOT")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--kernel", default="python3")
    args = parser.parse_args(argv)
    notebook = Path(args.notebook)
    if not notebook.is_absolute():
        notebook = Path(__file__).resolve().parent.parent / notebook
    root = os.environ.get("DATA_ROOT")
    if not root:
        raise SystemExit("DATA_ROOT is not set: run this script through its DAG task (or export DATA_ROOT)")
    params = {"data_root": root, **{name: parse_value(value) for name, value in args.parameter}}
    if "INPUT_FILE" in os.environ:
        params.setdefault("input_file", os.environ["INPUT_FILE"])
    target = UPath(root) / args.output
    failed: BaseException | None = None
    with tempfile.TemporaryDirectory() as tmp:
        # Executed locally, then copied: papermill writes the output at every cell, slow on an object store.
        local = Path(tmp) / notebook.name
        try:
            papermill.execute_notebook(str(notebook), str(local), parameters=params, kernel_name=args.kernel,
                                       cwd=tmp, progress_bar=False, log_output=True)
        except papermill.PapermillExecutionError as exc:
            failed = exc
        if local.is_file():
            if target.protocol in ("", "file", "local"):
                target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(local.read_bytes())
            print(f"executed notebook: {target}")
    if failed is not None:
        print(f"notebook failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
