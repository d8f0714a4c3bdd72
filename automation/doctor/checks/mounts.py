"""Mounts as the node sees them: a uniquely named file written into each host folder must be readable, with
the same content, in a pod that mounts the target's claims as task pods do (a short-lived pod, deleted after).
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from automation.doctor.findings import Finding, blocker, not_applicable, ok
from automation.doctor.probe import Probe
from automation.k8s.objects import meta
from automation.settings.contract import DAGS_CLAIM, DATA_CLAIM, UID

POD_TIMEOUT = 30.0


def probe_pod(name: str, namespace: str, image: str, files: dict[str, str]) -> dict[str, Any]:
    """A pod that mounts each claim read-only at /probe/CLAIM and prints `found PATH CONTENT` or `missing PATH`
    for each file (`files`: claim -> file name)."""
    script = "; ".join(f'f=/probe/{claim}/{file}; if [ -r "$f" ]; then echo "found {claim} $(cat "$f")"; '
                       f'else echo "missing {claim}"; fi' for claim, file in sorted(files.items()))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(name, namespace, {"app.kubernetes.io/component": "doctor"}),
        "spec": {
            "restartPolicy": "Never",
            "activeDeadlineSeconds": 120,
            "terminationGracePeriodSeconds": 0,
            "containers": [{
                "name": "probe",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["/bin/sh", "-c", script],
                "securityContext": {"runAsUser": UID, "runAsNonRoot": True, "allowPrivilegeEscalation": False},
                "volumeMounts": [{"name": claim, "mountPath": f"/probe/{claim}", "readOnly": True}
                                 for claim in sorted(files)],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
            }],
            "volumes": [{"name": claim, "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}
                        for claim in sorted(files)],
        },
    }


def read_back(log: str) -> dict[str, str | None]:
    """claim -> the content the pod read (None: the file was not there)."""
    seen: dict[str, str | None] = {}
    for line in log.splitlines():
        word, _, rest = line.partition(" ")
        claim, _, content = rest.partition(" ")
        if word in ("found", "missing") and claim:
            seen[claim] = content if word == "found" else None
    return seen


def check_mounts(probe: Probe) -> Finding:
    target, provider = probe.target, probe.provider
    mounts = provider.host_mounts()
    if mounts is None:
        return not_applicable("mounts", f"target {target.name} ({provider.kind}) mounts no folder of this machine")
    live = probe.live()
    if live is None:
        return Finding("mounts", "n/a", "not checked: the cluster does not answer (see context)")
    hosts = {DAGS_CLAIM: target.path(mounts.dags.host), DATA_CLAIM: target.path(mounts.data.host)}
    absent = [c for c in hosts if live.get("PersistentVolumeClaim", c, target.namespace) is None]
    if absent:
        return blocker("mounts", f"claim(s) {', '.join(absent)} absent in namespace {target.namespace}",
                       probe.command("up"))
    token = secrets.token_hex(6)
    name = f"{target.release}-doctor-{token}"
    if probe.runner.dry_run:
        probe.runner.plan(f"write .doctor-{token} into {', '.join(str(p) for p in hosts.values())}; run Pod/{name} "
                          "reading it through the claims")
        return Finding("mounts", "n/a", "dry run: not probed")
    written: list[Path] = []
    try:
        for host in hosts.values():
            path = host / f".doctor-{token}"
            path.write_text(token)
            path.chmod(0o644)  # whatever this shell's umask: task pods run as another uid
            written.append(path)
        live.apply(probe_pod(name, target.namespace, provider.airflow_image(),
                             {claim: f".doctor-{token}" for claim in hosts}))
        phase, log = wait(live, name, target.namespace)
    except OSError as exc:
        return blocker("mounts", f"cannot write into {exc.filename}: {exc.strerror}",
                       f"check targets.{target.name}.mounts and the folder's permissions")
    finally:
        for path in written:
            path.unlink(missing_ok=True)
        live.delete("Pod", name, target.namespace, grace_seconds=0)
    seen = read_back(log)
    wrong = [f"{claim} (host {hosts[claim]}, node {node_path(probe, claim)})" for claim in hosts
             if seen.get(claim) != token]
    if phase != "Succeeded" or wrong:
        why = f"pod {phase}" + (f": {log.strip()[-160:]}" if log.strip() and not seen else "")
        through = ", ".join(wrong) or "the claims"
        return blocker("mounts", f"a file written here is not visible in a pod through {through} ({why})",
                       f"check that the node sees this machine's folders at targets.{target.name}.mounts.*.node"
                       + provider.remount_fix(probe.command("up")))
    return ok("mounts", "a file written here is read back in a pod through "
                        + ", ".join(f"{claim} ({hosts[claim].name} -> {node_path(probe, claim)})" for claim in hosts))


def node_path(probe: Probe, claim: str) -> str:
    mounts = probe.target.mounts
    assert mounts is not None
    return mounts.dags.node if claim == DAGS_CLAIM else mounts.data.node


def wait(live: Any, name: str, namespace: str, timeout: float = POD_TIMEOUT) -> tuple[str, str]:
    """The pod's final phase and log (polled often: the whole doctor has a few seconds)."""
    deadline = time.monotonic() + timeout
    phase, reason = "Pending", ""
    while time.monotonic() < deadline:
        pod = live.get("Pod", name, namespace) or {}
        status = pod.get("status") or {}
        phase = str(status.get("phase", "Pending"))
        states = [c.get("state") or {} for c in status.get("containerStatuses") or []]
        # The container's end is reported a second or more before the pod's phase follows: take it at once.
        ended = next((s["terminated"] for s in states if s.get("terminated")), None)
        if ended is not None:
            phase = "Succeeded" if ended.get("exitCode") == 0 else f"Failed (exit {ended.get('exitCode')})"
        if ended is not None or phase in ("Succeeded", "Failed"):
            return phase, live.pod_log(name, namespace, tail=20)
        waiting = [s.get("waiting") for s in states]
        reason = next((f"{w.get('reason')}: {w.get('message', '')}" for w in waiting if w), reason)
        time.sleep(0.1)
    return f"{phase} after {timeout:.0f}s{' (' + reason.strip(': ') + ')' if reason else ''}", ""
