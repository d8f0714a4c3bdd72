"""Airflow's secrets: present with every key, and the core Secret unchanged since `up` (or
`rotate-fernet-key`) wrote it, by the sha256 per key recorded in its annotation. Values are never printed."""

from __future__ import annotations

from automation.doctor.findings import Finding, blocker, ok, warn
from automation.doctor.probe import Probe
from automation.k8s import airflow_secrets


def check_secrets(probe: Probe) -> Finding:
    target = probe.target
    live = probe.live()
    if live is None:
        return Finding("airflow secrets", "n/a", "not checked: the cluster does not answer (see context)")
    name = airflow_secrets.core_secret_name(target)
    core = live.get("Secret", name, target.namespace)
    missing = [] if core is None else [k for k in airflow_secrets.CORE_KEYS if not (core.get("data") or {}).get(k)]
    if core is None or missing:
        what = f"Secret/{name} absent" if core is None else f"Secret/{name} lacks {', '.join(missing)}"
        return blocker("airflow secrets", f"{what} in namespace {target.namespace}",
                       f"{probe.command('up')} (it adds what is missing and keeps present keys)")
    if target.database.mode == "external":
        db = airflow_secrets.metadata_secret_name(target)
        if live.get("Secret", db, target.namespace) is None:
            return blocker("airflow secrets", f"Secret/{db} (the metadata database URL) absent",
                           probe.command("up"))
    changed = airflow_secrets.changed_keys(core)
    keys = ", ".join(airflow_secrets.CORE_KEYS)
    if changed is None:
        return warn("airflow secrets", f"Secret/{name} present ({keys}) but holds no fingerprint (made before "
                                       "`up` recorded one): a change cannot be told",
                    f"{probe.command('up')} records the present values' sha256 (values kept)")
    if changed:
        return blocker("airflow secrets", f"Secret/{name}: {', '.join(changed)} changed since `up` wrote it "
                                          "(a new fernet-key leaves stored connections unreadable)",
                       "put the previous value back; if the change was meant, rotate with "
                       f"`{probe.command('rotate-fernet-key')}` or record it: `kubectl annotate secret {name} -n "
                       f"{target.namespace} {airflow_secrets.FINGERPRINT_ANNOTATION}-` then `{probe.command('up')}`")
    return ok("airflow secrets", f"Secret/{name} present ({keys}), unchanged since `up` wrote it (sha256 per key)")
