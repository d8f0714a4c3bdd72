"""`render`: every manifest and the merged Helm values the target would apply; touches no cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from automation.core.runner import Runner, mask
from automation.images.sync import plan_tool_tags
from automation.k8s.apply import redact
from automation.k8s.helm import chart_ref
from automation.providers import provider_for
from automation.providers.base import UpOptions
from automation.settings.model import Target
from automation.settings.secret_files import prepare_secret_files


def render(runner: Runner, target: Target, options: UpOptions) -> list[Path]:
    provider = provider_for(runner, target)
    prepare_secret_files(runner, target)
    plan_tool_tags(runner, provider, record=False)  # the tags `up` would build them with
    out = Path(options.out or f"render/{target.name}")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.yaml"):
        old.unlink()
    written = []
    objects = out / "objects.yaml"
    docs = provider.desired_objects()
    objects.write_text(yaml.safe_dump_all([redact(d) for d in docs], sort_keys=False))
    written.append(objects)
    if provider.cluster is not None:
        values = provider.merged_values(options)
        values_path = out / "values.yaml"
        values_path.write_text(yaml.safe_dump(_masked_values(values), sort_keys=True))
        written.append(values_path)
        chart = chart_ref(target)
        if chart.local_path is not None and runner.which("helm"):
            chart_docs = provider.cluster.helm().template(chart, provider.write_values(values))
            manifests = out / "chart.yaml"
            manifests.write_text(yaml.safe_dump_all([redact(d) for d in chart_docs], sort_keys=False))
            written.append(manifests)
    env_path = out / "task-env.json"
    env_path.write_text(json.dumps(provider.task_env(), indent=2, sort_keys=True) + "\n")
    written.append(env_path)
    for path in written:
        runner.say(f"wrote {path}")
    return written


def _masked_values(values: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(mask(json.dumps(values))))
