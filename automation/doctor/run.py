"""`doctor`: every check of the target at once (threads: most wait on the API server or a subprocess), one line
each in a fixed order, a fix for each finding that is not ok, exit code 1 when anything blocks."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.doctor.checks.airflow_secrets import check_secrets
from automation.doctor.checks.chart_config import check_execution_api, check_jwt
from automation.doctor.checks.context import check_context
from automation.doctor.checks.dag_gate import check_dag_gate
from automation.doctor.checks.images import check_images
from automation.doctor.checks.mounts import check_mounts
from automation.doctor.checks.ports import check_ui_forward
from automation.doctor.checks.resources import check_resources
from automation.doctor.checks.served_api import check_served_api
from automation.doctor.checks.tools import check_tools
from automation.doctor.findings import Finding, blocker, exit_code, not_applicable, summary
from automation.doctor.probe import Probe
from automation.providers import provider_for
from automation.settings.model import Target

Check = Callable[[Probe], Finding]
# (name, check, needs kubectl access to Airflow's own cluster), in the order they are printed.
CHECKS: tuple[tuple[str, Check, bool], ...] = (
    ("tools", check_tools, False),
    ("context", check_context, True),
    ("cpu/memory", check_resources, True),
    ("ui port-forward", check_ui_forward, True),
    ("mounts", check_mounts, True),
    ("airflow secrets", check_secrets, True),
    ("execution API", check_execution_api, True),
    ("JWT secret", check_jwt, True),
    ("worker images", check_images, False),
    ("DAG gate", check_dag_gate, False),
    ("airflow api", check_served_api, False),
)
NO_CLUSTER = "Cloud Composer runs Airflow's cluster: Google manages it, there is no kube access to check"


def run_check(name: str, check: Check, probe: Probe) -> Finding:
    """A check that fails is a finding too, never a traceback."""
    try:
        return check(probe)
    except UserError as exc:
        return blocker(name, exc.problem, exc.fix or "rerun with -v")
    except Exception as exc:
        if probe.runner.verbose:
            raise
        return blocker(name, f"the check itself failed: {type(exc).__name__}: {str(exc)[:160]}",
                       "rerun with -v for the trace, and report it")


def diagnose(probe: Probe) -> list[Finding]:
    chosen = [(name, check, cluster) for name, check, cluster in CHECKS]
    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
        futures = [None if cluster and probe.provider.cluster is None else
                   pool.submit(run_check, name, check, probe) for name, check, cluster in chosen]
        return [not_applicable(name, NO_CLUSTER) if future is None else future.result()
                for (name, _, _), future in zip(chosen, futures, strict=True)]


def doctor(runner: Runner, target: Target) -> int:
    t0 = time.monotonic()
    provider = provider_for(runner, target)
    runner.say(f"doctor: target {target.name} ({provider.kind}), namespace {target.namespace}")
    findings = diagnose(Probe(provider))
    width = max(len(f.check) for f in findings)
    for finding in findings:
        runner.say(finding.line(width))
    runner.say(summary(findings, time.monotonic() - t0))
    return exit_code(findings)
