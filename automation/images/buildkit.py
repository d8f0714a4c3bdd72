"""A build by the Docker engine's own BuildKit, asked through the engine's API: no buildx, no session.

Why: the classic builder runs stages one after another and commits every step (the layer's files tarred, hashed
and unpacked again), so a worker image's wheels were committed once when copied in and its packages twice
(installed, then copied into the image). BuildKit bind-mounts the wheels (never a layer), runs the layer stages
in parallel and copies each finished layer once. Docker Engine has carried BuildKit since 18.09 and takes a
`version=2` build with the context as the request's tar body; only the CLI needs the buildx plugin for it,
which many machines lack (Debian's docker.io among them). So this works wherever the engine does.

The engine streams BuildKit's progress as protobuf inside its JSON (buildkit_status.py reads it): each step is
timed, printed with -v, and a failing step's own last lines make the error message.
"""

from __future__ import annotations

import json
import shlex
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from automation.core.errors import UserError
from automation.core.runner import Result, Runner
from automation.images.buildkit_status import STDERR, Log, Vertex, decode
from automation.images.engine import client

# A step's own output kept for the error message when it fails.
_LOG_LINES_KEPT = 20
TRACE_ID = "moby.buildkit.trace"
# After the equivalent command, where the runner prints commands: it is not run as such.
SHOWN_SUFFIX = "(BuildKit, through the engine's API)"


class BuildKitUnavailable(Exception):
    """The engine refused a BuildKit build (an engine without it, or one that answers the API differently)."""


@dataclass
class Trace:
    """Every step of one build, merged from the status messages, and each step's last output lines."""

    started: float = field(default_factory=time.time)
    ended: float = 0.0
    steps: dict[str, Vertex] = field(default_factory=dict)
    # vertex -> its last lines, per stream: a step's stdout and stderr arrive as separate messages, in no fixed
    # order between the two, so the error message takes the last line the step wrote to stderr when it wrote any.
    logs: dict[str, dict[int, list[str]]] = field(default_factory=dict)

    def add(self, item: Vertex | Log) -> Vertex | None:
        """Merge one decoded item; returns the step when this message completed it."""
        if isinstance(item, Log):
            lines = self.logs.setdefault(item.vertex, {}).setdefault(item.stream, [])
            lines.extend(line for line in item.text.splitlines() if line.strip())
            del lines[:-_LOG_LINES_KEPT]
            return None
        known = self.steps.get(item.digest)
        merged = item if known is None else replace(
            known, name=item.name or known.name, cached=item.cached or known.cached,
            started=item.started or known.started, completed=item.completed or known.completed,
            error=item.error or known.error)
        self.steps[item.digest] = merged
        finished = merged.completed is not None and (known is None or known.completed is None)
        return merged if finished else None

    def ordered(self) -> list[Vertex]:
        return sorted(self.steps.values(), key=lambda v: (v.started or self.ended, v.name))

    def failed(self) -> Vertex | None:
        return next((v for v in self.ordered() if v.error), None)

    def last_words(self, step: Vertex) -> str:
        """The step's last stderr line, else its last stdout line, else BuildKit's own error."""
        streams = self.logs.get(step.digest, {})
        lines = streams.get(STDERR) or next((v for v in streams.values() if v), [])
        return lines[-1].strip() if lines else step.error


def _context_tar(context: Path, into: Path) -> None:
    """The context as an uncompressed tar. GNU headers, not Python's default PAX: the engine tells a tar body
    from a bare Dockerfile by reading the first entry's header from the first 1 KiB, which a PAX extended header
    pushes out of reach (the build then fails with "dockerfile line greater than max allowed size")."""
    with tarfile.open(into, "w", format=tarfile.GNU_FORMAT) as tar:
        for child in sorted(context.iterdir()):
            tar.add(child, arcname=child.name)


def build(runner: Runner, context: Path, ref: str, *, labels: dict[str, str], build_args: dict[str, str],
          no_cache: bool, shown: str, fix: str, on_step: Callable[[Vertex], None] | None = None) -> Trace:
    """Build `context` (a folder with its Dockerfile) into the local image `ref` with the engine's BuildKit.

    `shown` is the equivalent command, printed as the runner prints commands. Raises BuildKitUnavailable when the
    engine refuses the request itself (the caller falls back to the classic builder), UserError when the build
    fails (the failing step and its last line).
    """
    runner.say(f"    $ {shown}  {SHOWN_SUFFIX}")
    params = {"t": ref, "version": "2", "rm": "1", "forcerm": "1", "labels": json.dumps(labels),
              "buildargs": json.dumps(build_args)}
    if no_cache:
        params["nocache"] = "1"
    api = client().api
    trace = Trace()
    t0 = time.monotonic()
    done = threading.Event()

    def beat() -> None:
        while not done.wait(30):
            finished = sum(1 for v in trace.steps.values() if v.completed is not None)
            runner.say(f"    ... still building ({time.monotonic() - t0:.0f}s, {finished} steps done)")

    with tempfile.TemporaryDirectory(dir=context.parent, prefix=".tar-") as tmp:
        body = Path(tmp) / "context.tar"
        _context_tar(context, body)
        threading.Thread(target=beat, daemon=True).start()
        try:
            with body.open("rb") as data:
                response = api.post(f"{api.base_url}/v{api.api_version}/build", params=params, data=data,
                                    headers={"Content-Type": "application/x-tar"}, stream=True, timeout=(30, 3600))
            if response.status_code >= 400:
                try:
                    message = str(response.json().get("message", response.text))
                except ValueError:
                    message = response.text
                raise BuildKitUnavailable(message.strip().splitlines()[0] if message.strip() else
                                          f"HTTP {response.status_code}")
            error = _follow(response.iter_lines(), trace, runner, on_step)
        finally:
            done.set()
    trace.ended = time.time()
    runner.history.append(Result(shlex.split(shown), 0 if not error else 1, "", error, time.monotonic() - t0))
    if error:
        step = trace.failed()
        if step is None:
            raise UserError(f"the build of {ref} failed: {error}", fix)
        said = trace.last_words(step)
        name = step.name if len(step.name) <= 90 else step.name[:87] + "..."
        raise UserError(f"the build of {ref} failed at {name}: {said[:300]}", fix)
    return trace


def _follow(lines: Iterable[bytes], trace: Trace, runner: Runner, on_step: Callable[[Vertex], None] | None) -> str:
    """Read the engine's JSON stream to its end; returns the build's error, or "" when it succeeded."""
    error = ""
    for raw in lines:
        if not raw:
            continue
        try:
            message = json.loads(raw)
        except ValueError:
            continue
        if "error" in message:
            error = str(message.get("error") or message.get("errorDetail", {}).get("message", "")).strip()
            continue
        if message.get("id") != TRACE_ID or not isinstance(message.get("aux"), str):
            continue
        for item in decode(message["aux"]):
            finished = trace.add(item)
            if finished is None:
                continue
            if runner.verbose and finished.started is not None and finished.completed is not None:
                took = "cached" if finished.cached else f"{finished.completed - finished.started:.1f}s"
                runner.say(f"      {finished.name[:110]} ({took})")
            if on_step is not None:
                on_step(finished)
    return error
