"""The chart values `up` would deploy at the new Airflow release, against the chart's values.schema.json.

The chart is the one the target pins: a local copy (`--chart`, the target's chart.path, or AIRFLOW_CHART_DIR) of
the pinned version. Without one the check is not made, and the report says so.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from automation.core.paths import rel
from automation.core.runner import Runner
from automation.k8s.helm import local_chart_version
from automation.providers import provider_for
from automation.providers.base import UpOptions
from automation.providers.composer import ComposerProvider
from automation.settings.model import Target


@dataclass(frozen=True)
class SchemaResult:
    chart: str  # what was checked against, as the report names it
    problems: list[str]  # "path: message", each a blocker
    skipped: str = ""  # why nothing was checked


def chart_folder(target: Target, given: Path | None) -> Path | None:
    if given is not None:
        return given
    if target.chart.source == "path" and target.chart.path:
        return target.path(target.chart.path)
    explicit = os.environ.get("AIRFLOW_CHART_DIR")
    return Path(explicit) if explicit else None


def check(runner: Runner, target: Target, version: str, chart: Path | None) -> SchemaResult:
    import jsonschema  # Airflow's own dependency (apache-airflow-core), so in the airflow extra's lock

    pinned = f"chart {target.chart.version}"
    provider = provider_for(Runner(dry_run=True, out=io.StringIO()), replace(target, airflow_version=version))
    if isinstance(provider, ComposerProvider):
        return SchemaResult(pinned, [], skipped="Cloud Composer deploys Airflow itself: no chart values")
    folder = chart_folder(target, chart)
    if folder is None or not (folder / "values.schema.json").is_file():
        where = f" at {folder}" if folder else ""
        return SchemaResult(pinned, [], skipped=f"no copy of {pinned}{where} with a values.schema.json -- pass "
                                                "--chart DIR or set AIRFLOW_CHART_DIR")
    found = local_chart_version(folder)
    if found != target.chart.version:
        return SchemaResult(pinned, [], skipped=f"the chart at {rel(folder)} is {found}, the target pins "
                                                f"{target.chart.version} -- pass the pinned chart with --chart")
    if runner.dry_run:
        runner.plan(f"check the values of target {target.name} at Airflow {version} against "
                    f"{rel(folder / 'values.schema.json')}")
        return SchemaResult(pinned, [])
    values = provider.merged_values(UpOptions())
    schema = json.loads((folder / "values.schema.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    problems = sorted(f"{'.'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
                      for error in validator.iter_errors(values))
    return SchemaResult(f"{pinned} ({rel(folder)})", problems)
