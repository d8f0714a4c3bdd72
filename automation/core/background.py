"""Processes a command leaves running (a `minikube mount`, a port-forward), remembered by a pid file."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

from automation.core.paths import rel
from automation.core.process import Process
from automation.core.runner import Runner


@dataclass
class Background:
    pidfile: Path

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().split()[0])
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError, IndexError):
            return None

    def start(self, runner: Runner, cmd: list[str], log: Path) -> None:
        if runner.dry_run:
            runner.run(cmd)  # printed only
            return
        runner.say(f"    $ {' '.join(cmd)} &  (log: {rel(log)})")
        pid = Process(cmd).detach(log)
        self.pidfile.write_text(f"{pid} {' '.join(cmd)}\n")

    def stop(self, runner: Runner) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        runner.plan(f"stop pid {pid} ({self.pidfile.stem})")
        if not runner.dry_run:
            os.killpg(pid, signal.SIGTERM)
            self.pidfile.unlink(missing_ok=True)
        return True
