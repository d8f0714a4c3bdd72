"""The run's progress on one line."""

from __future__ import annotations

from typing import Any

from automation.core.runner import Runner, mask


class Progress:
    """One line for the run: rewritten in place on a terminal; in CI logs, a new line only when states change
    (plus one a minute, so a quiet log still shows it is alive)."""

    def __init__(self, runner: Runner):
        self.runner = runner
        self.tty = hasattr(runner.out, "isatty") and runner.out.isatty()
        self.last = ""
        self.last_printed = 0.0
        self.open = False

    def show(self, elapsed: float, run_state: str, tasks: list[dict[str, Any]]) -> None:
        summary = f"run {run_state}: " + (", ".join(f"{t['task_id']} {t.get('state') or 'none'}" for t in tasks)
                                          or "no task yet")
        line = mask(f"    [{elapsed:4.0f}s] {summary}")
        changed = summary != self.last
        if self.tty:
            if changed and self.open:
                self.runner.out.write("\n")
            self.runner.out.write("\r\033[K" + line)
            self.runner.out.flush()
            self.open = True
        elif changed or elapsed - self.last_printed >= 60:
            self.runner.say(line)
            self.last_printed = elapsed
        self.last = summary

    def end(self) -> None:
        if self.tty and self.open:
            self.runner.out.write("\n")
            self.runner.out.flush()
            self.open = False
