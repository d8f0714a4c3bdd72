"""The UI port-forward `up` leaves running: stopped or deaf, doctor says so and names `ui` as the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from automation.doctor.checks.ports import check_ui_forward
from automation.doctor.probe import Probe
from automation.k8s.port_forward import pick_port


def test_no_forward_process_is_a_warning_naming_ui(probe_for: Callable[..., Probe]) -> None:
    finding = check_ui_forward(probe_for("existing"))
    assert finding.status == "warn" and finding.message.startswith("not running")
    assert finding.fix.startswith("nox -s ui -- --target existing")


def test_a_live_process_whose_port_does_not_answer_is_a_warning(probe_for: Callable[..., Probe]) -> None:
    probe = probe_for("existing")
    forward = probe.provider.deployer.ui_forward
    assert forward is not None
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        forward.process.pidfile.write_text(f"{sleeper.pid} python\n")
        port = pick_port(18090, explicit=False)  # free: nothing answers there
        forward.port_file.write_text(str(port))
        forward.log.write_text("E1202 error: lost connection to pod\n")
        finding = check_ui_forward(probe)
        assert finding.status == "warn" and f"pid {sleeper.pid} runs but http://localhost:{port} does not answer" \
            in finding.message
        assert "lost connection to pod" in finding.message and "nox -s ui" in finding.fix
    finally:
        sleeper.kill()
        sleeper.wait()
    assert os.path.exists(forward.process.pidfile)
    assert check_ui_forward(probe).message.startswith("not running")  # the process gone: stopped
