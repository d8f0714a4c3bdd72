"""The upgrade check's one report: what blocks the upgrade, what to look at, what the pods will do differently."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Level = Literal["blocker", "warning"]


@dataclass(frozen=True)
class Finding:
    level: Level
    section: str  # "DAG files", "task pods", "overrides", "Airflow rules", "chart values"
    where: str  # a file (relative to the DAG folder), a task (dag.task) or a values path
    message: str

    def line(self) -> str:
        return f"{self.level:7}  {self.where}: {self.message}"


@dataclass
class UpgradeReport:
    current: str  # "Airflow 3.3.2, cncf-kubernetes 10.22.0"
    new: str
    resolution: str  # where the new provider version came from
    files: int = 0
    dags: int = 0
    pods: int = 0  # tasks whose pods both releases built
    findings: list[Finding] = field(default_factory=list)
    # "dag.task" -> its pod's changes (pod_diff lines); tasks with none are not listed.
    pod_changes: dict[str, list[str]] = field(default_factory=dict)
    rules: str = ""  # the rules that ran ("ruff 0.17.6 --select AIR")
    chart: str = ""  # what the values were checked against

    def blockers(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "blocker"]

    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    def lines(self) -> list[str]:
        out = [f"Upgrade check: {self.current} -> {self.new}", f"  provider version: {self.resolution}"]
        sections = (
            ("DAG files", f"{self.files} files, {self.dags} DAGs parsed by the new release"),
            ("task pods", f"{self.pods} task pods built by both releases, {len(self.pod_changes)} changed"),
            ("overrides", "the DAG folder's overrides of Airflow's methods, against the new release's"),
            ("Airflow rules", self.rules),
            ("chart values", self.chart),
        )
        for section, summary in sections:
            found = [f for f in self.findings if f.section == section]
            out.append(f"  {section}: {summary}" + ("" if found or section == "task pods" else ": ok"))
            out += [f"    {finding.line()}" for finding in found]
            if section == "task pods":
                for task, changes in sorted(self.pod_changes.items()):
                    out.append(f"    changed  {task}:")
                    out += [f"      {change}" for change in changes]
        blockers, warnings = len(self.blockers()), len(self.warnings())
        out.append(f"  {blockers} blocker{'s' * (blockers != 1)}, {warnings} warning{'s' * (warnings != 1)}")
        return out
