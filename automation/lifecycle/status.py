"""`status`: one table of the target's state, read only."""

from __future__ import annotations

import json
from typing import Any

from automation.core.runner import Runner
from automation.providers import provider_for
from automation.settings.model import Target


def status(runner: Runner, target: Target, as_json: bool = False) -> dict[str, Any]:
    out = runner.out
    if as_json:  # what runs on the way (GKE's get-credentials, a warning) stays off the JSON
        runner.out = runner.err
    try:
        provider = provider_for(runner, target)
        rows: dict[str, Any] = {"target": f"{target.name} ({provider.kind})", "cluster": provider.cluster_summary(),
                                "mounts": provider.mounts_summary()}
        rows.update(provider.deployer.status_rows())
    finally:
        runner.out = out
    if as_json:
        runner.say(json.dumps(rows, indent=2))
    else:
        width = max(len(k) for k in rows)
        for key, value in rows.items():
            runner.say(f"{key:<{width}}  {value}")
    return rows
