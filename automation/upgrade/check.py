"""The upgrade check, step by step: the new release's environment, both releases parsing the DAG files and
building every task pod (the project's own gate, automation.dags.gate, run by each interpreter), Airflow's
migration rules, the chart values; then the report, a UserError when anything blocks."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from automation.core.errors import UserError
from automation.core.paths import rel
from automation.core.runner import Runner
from automation.dags.gate import Report, parse
from automation.providers import provider_for
from automation.settings.model import Target
from automation.upgrade import chart_schema, environment, pod_diff, rules
from automation.upgrade.report import Finding, UpgradeReport


@dataclass(frozen=True)
class Options:
    version: str  # the Airflow release to move to
    dags_folder: Path
    provider: str | None = None  # the cncf-kubernetes provider version, else the constraints' or the resolver's
    chart: Path | None = None  # a local copy of the pinned chart
    current: str | None = None  # the release the DAGs run on now, else the pinned one (this interpreter's)
    current_provider: str | None = None  # the cncf-kubernetes provider of `current`


def describe(versions: dict[str, str]) -> str:
    return f"Airflow {versions.get('airflow', '?')}, cncf-kubernetes {versions.get('cncf_kubernetes', '?')}"


def last_line(error: str) -> str:
    return (error.strip().splitlines() or ["import error"])[-1]


def compare(current: Report, new: Report, version: str, folder: Path) -> tuple[list[Finding], dict[str, list[str]],
                                                                           int]:
    """What parsing and building the pods under the new release found, against the current release."""
    findings = [Finding("blocker", "DAG files", file, f"import error under Airflow {version}: {last_line(error)}")
                for file, error in sorted(new.import_errors.items())]
    for text in sorted(set(new.warnings)):
        file, _, message = text.partition(": ")
        findings.append(Finding("warning", "DAG files", file, message.replace(f"{folder}/", "")))
    findings += [Finding("blocker", "task pods", task, f"its pod cannot be built under Airflow {version}: {error}")
                 for task, error in sorted(new.pod_errors.items())]
    findings += [Finding("blocker", "overrides", where, f"under Airflow {version}: {why}")
                 for where, why in sorted(new.overrides.items())]
    # A task whose DAG file no longer loads is that file's import error, already a blocker; any other task the
    # current release builds and the new one does not is one of its own.
    broken = {dag for file, dags in current.dags.items() if file in new.import_errors for dag in dags}
    findings += [Finding("blocker", "task pods", task, f"not built under Airflow {version}: its DAG did not load")
                 for task in sorted(current.pods.keys() - new.pods.keys() - new.pod_errors.keys())
                 if not any(task.startswith(f"{dag}.") for dag in broken)]
    changes = {task: lines for task in sorted(current.pods.keys() & new.pods.keys())
               if (lines := pod_diff.diff(current.pods[task], new.pods[task]))}
    return findings, changes, len(current.pods.keys() & new.pods.keys())


def run(runner: Runner, target: Target, options: Options) -> UpgradeReport | None:
    """The check; None in a dry run (its plan printed)."""
    folder = options.dags_folder.resolve()
    now_python = None
    if options.current:
        with runner.step(f"Environment of Airflow {options.current} (--from)"):
            now_python = environment.prepare(runner, options.current, options.current_provider).python
    with runner.step(f"Environment of Airflow {options.version}"):
        env = environment.prepare(runner, options.version, options.provider)
    task_env = provider_for(Runner(dry_run=True, out=io.StringIO()), target).task_env()
    if runner.dry_run:
        source = (f"{rel(now_python.parent.parent)} (Airflow {options.current})" if now_python
                  else "this environment's Airflow")
        runner.plan(f"parse {rel(folder)}/ and build every task pod with {source} and with "
                    f"{rel(env.python.parent.parent)} (Airflow {options.version}), the pods of target {target.name}")
        runner.plan(" ".join(rules.command(folder)))
        skipped = chart_schema.check(runner, target, options.version, options.chart).skipped
        if skipped:
            runner.plan(f"chart values: not checked ({skipped})")
        return None
    # Both parses at once: each is mostly Airflow's imports in its own process.
    with runner.step(f"DAG files and task pods under both releases ({rel(folder)})"), \
            ThreadPoolExecutor(max_workers=2) as pool:
        now = pool.submit(parse, folder, task_env=task_env, pods=True, python=now_python)
        then = pool.submit(parse, folder, task_env=task_env, pods=True, python=env.python)
        current, new = now.result(), then.result()
    report = UpgradeReport(describe(current.versions), describe(new.versions), env.resolution,
                           files=len(new.files), dags=sum(len(d) for d in new.dags.values()))
    report.findings, report.pod_changes, report.pods = compare(current, new, options.version, folder)
    with runner.step("Airflow's migration rules (ruff AIR)"):
        violations = rules.check(runner, folder)
    report.rules = f"ruff --select AIR over {rel(folder)}/"
    report.findings += [Finding("blocker" if v.blocker else "warning", "Airflow rules", f"{v.file}:{v.line}",
                                f"{v.code} {v.message}") for v in violations]
    with runner.step(f"Chart values at Airflow {options.version} against the chart's schema"):
        schema = chart_schema.check(runner, target, options.version, options.chart)
    report.chart = f"target {target.name}'s values against {schema.chart}'s values.schema.json"
    if schema.skipped:
        report.findings.append(Finding("warning", "chart values", schema.chart, f"not checked: {schema.skipped}"))
    report.findings += [Finding("blocker", "chart values", problem.split(": ", 1)[0], problem.split(": ", 1)[-1])
                        for problem in schema.problems]
    return report


def gate(runner: Runner, target: Target, options: Options) -> UpgradeReport | None:
    """The check as a command: the report printed, a UserError (non-zero exit) when anything blocks."""
    report = run(runner, target, options)
    if report is None:
        return None
    for line in report.lines():
        runner.say(line)
    blockers = report.blockers()
    if blockers:
        again = f"--from {options.current} --to {options.version}" if options.current else f"--to {options.version}"
        more = f" (and {len(blockers) - 1} more, listed above)" if len(blockers) > 1 else ""
        raise UserError(f"upgrade to Airflow {options.version}: {blockers[0].where}: {blockers[0].message}{more}",
                        f"fix what blocks, then run `nox -s upgrade-check -- {again}` again")
    runner.ok(f"nothing blocks the upgrade to Airflow {options.version} ({len(report.warnings())} warnings)")
    return report
