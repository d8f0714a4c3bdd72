"""The DAG's declared output (tag project:NAME + param output), read through one path API: a folder of this
machine, or gs:// (universal-pathlib)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.providers import Provider

# Node clocks (Minikube's VM, a bucket's servers) may run a little behind this machine's.
CLOCK_SKEW = 30

def declared_output(details: dict[str, Any]) -> tuple[str, str] | None:
    """(project, output) from the DAG's tag project:NAME and param output; None when it declares no output."""
    params = details.get("params") or {}
    param = params.get("output")
    output = param.get("value") if isinstance(param, dict) and "value" in param else param
    if not output:
        return None
    tags = [t.get("name") if isinstance(t, dict) else t for t in details.get("tags") or []]
    projects = [str(t).split(":", 1)[1] for t in tags if str(t).startswith("project:")]
    if not projects:
        raise UserError(f"DAG {details.get('dag_id')} declares output {output!r} but no tag 'project:NAME'",
                        "add tags=['project:NAME'] to the DAG so its output can be found")
    return projects[0], str(output).lstrip("/")


def check_output(runner: Runner, provider: Provider, details: dict[str, Any], run: dict[str, Any],
                 head: int = 10) -> None:
    declared = declared_output(details)
    if declared is None:
        runner.ok(f"DAG {details.get('dag_id')} declares no 'output' param: success, no output check")
        return
    project, output = declared
    where = provider.output_location(project, output)
    size, mtime, first = _stat_and_head(where, head)
    started = _parse_time(run.get("start_date"))
    if size is None:
        raise UserError(f"the run succeeded but its declared output {where} does not exist",
                        f"the DAG's param 'output' ({output}) must match the file the tasks write", exit_code=1)
    if size == 0:
        raise UserError(f"the declared output {where} is empty", "check the task that writes it", exit_code=1)
    if started and mtime is not None and mtime < started - CLOCK_SKEW:
        when = datetime.fromtimestamp(mtime).isoformat(timespec="seconds")
        raise UserError(f"the declared output {where} was not written by this run (last changed {when}, "
                        "before the run started)", "check the task that writes it", exit_code=1)
    runner.ok(f"output {where}: {size} bytes, written by this run")
    for line in first:
        runner.say(f"    | {line}")


def _stat_and_head(where: str, head: int) -> tuple[int | None, float | None, list[str]]:
    if "://" not in where:
        path = Path(where)
        if not path.is_file():
            return None, None, []
        stat = path.stat()
        with path.open("rb") as handle:
            data = handle.read(64 * 1024)
        return stat.st_size, stat.st_mtime, _lines(data, head)
    try:
        from upath import UPath
    except ImportError:
        raise UserError(f"reading {where} needs universal-pathlib and gcsfs",
                        "pip install universal-pathlib gcsfs") from None
    upath = UPath(where)
    try:
        if not upath.is_file():
            return None, None, []
        info = upath.fs.info(upath.path)
        with upath.open("rb") as handle:
            data = handle.read(64 * 1024)
    except ImportError as exc:
        raise UserError(f"reading {where} needs {exc.name or 'gcsfs'}", "pip install gcsfs") from None
    except PermissionError as exc:
        raise UserError(f"cannot read {where}: {exc}", "gcloud auth application-default login") from None
    updated = info.get("mtime") or info.get("updated") or info.get("LastModified")
    mtime = _parse_time(updated) if isinstance(updated, str) else (
        updated.timestamp() if isinstance(updated, datetime) else None)
    return int(info.get("size") or 0), mtime, _lines(data, head)


def _lines(data: bytes, head: int) -> list[str]:
    if b"\0" in data[:1024]:
        return [f"(binary, first {min(len(data), 1024)} bytes not shown)"]
    return data.decode(errors="replace").splitlines()[:head]


def _parse_time(value: Any) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def duration(run: dict[str, Any]) -> str:
    start, end = _parse_time(run.get("start_date")), _parse_time(run.get("end_date"))
    return f"{end - start:.0f}s" if start and end else "?"
