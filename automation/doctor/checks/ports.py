"""The UI's port-forward that `up` leaves running (supervised by `forward_loop`): alive, and answering."""

from __future__ import annotations

from automation.doctor.findings import Finding, not_applicable, ok, warn
from automation.doctor.probe import Probe
from automation.k8s.port_forward import answers, port_free


def check_ui_forward(probe: Probe) -> Finding:
    forward = probe.provider.deployer.ui_forward
    if forward is None:
        return not_applicable("ui port-forward", "Airflow serves its own URL: nothing is forwarded")
    pid = forward.process.pid()
    fix = f"{probe.command('ui')} (it starts the forward again and opens the UI; nothing else changes)"
    if pid is None:
        preferred = probe.target.ui.port
        taken = "" if port_free(preferred) else f"; port {preferred} is taken by another process, `ui` will " \
                                                "pick the next free one"
        return warn("ui port-forward", f"not running (no live process in {forward.process.pidfile.name}){taken}",
                    fix)
    url = forward.url()
    if url is None:
        return warn("ui port-forward", f"pid {pid} runs but {forward.port_file.name} is missing", fix)
    port = int(url.rsplit(":", 1)[1])
    if not answers(port, forward.health_path):
        lines = forward.log.read_text(errors="replace").strip().splitlines() if forward.log.is_file() else []
        last = f" (log: {lines[-1][:160]})" if lines else ""
        return warn("ui port-forward", f"pid {pid} runs but {url} does not answer{last}", fix)
    return ok("ui port-forward", f"{url} -> svc/{forward.service}:{forward.remote_port} answers (pid {pid})")
