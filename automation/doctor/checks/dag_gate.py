"""The DAG gate for this target (integrity and parity, `nox -s dags`): passed for the DAG files as they are, by
the pass `up` remembers (a fingerprint of the files, the target's environment and Airflow's version), or run
now when the files changed since (seconds: Airflow's imports)."""

from __future__ import annotations

import importlib.util
import io

from automation.core.errors import UserError
from automation.core.paths import DAGS_FOLDER
from automation.core.runner import Runner
from automation.dags import parity
from automation.doctor.findings import Finding, blocker, ok, warn
from automation.doctor.probe import Probe
from automation.providers.base import UpOptions

STAMP = "dags-check.pass"


def check_dag_gate(probe: Probe) -> Finding:
    provider = probe.provider
    stamp = provider.state_dir() / STAMP
    # Deployed with the target's own values files: a pass `up` remembered with extra --values is checked again.
    deployment = provider.deployer.prepare(UpOptions())
    fingerprint = parity.dags_fingerprint(DAGS_FOLDER, provider, deployment)
    if stamp.is_file() and stamp.read_text() == fingerprint:
        return ok("DAG gate", "passed for the DAG files as they are (the pass `up` remembered)")
    fix = probe.command("dags")
    if importlib.util.find_spec("airflow") is None:
        return warn("DAG gate", "DAG files changed since the last pass, and Airflow is not installed here to check",
                    fix)
    quiet = Runner(out=io.StringIO())  # the gate's own per-file lines stay out of the report
    try:
        report = parity.check(quiet, provider, deployment, server=False)
    except UserError as exc:
        return blocker("DAG gate", exc.problem, exc.fix or fix)
    if report.problems:
        more = f" (and {len(report.problems) - 1} more)" if len(report.problems) > 1 else ""
        return blocker("DAG gate", report.problems[0] + more, fix)
    # The same pass `up` records: the next `up` and `doctor` skip the parse.
    stamp.write_text(fingerprint)
    return ok("DAG gate", f"run now (the DAG files changed): {report.pods} task pods fit target "
                          f"{provider.target.name}")
