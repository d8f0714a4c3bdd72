"""`status` on Cloud Composer: Google runs the cluster, so the rows come from its API."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from automation.providers.composer_api import WORKLOAD_GROUP, software_config

if TYPE_CHECKING:
    from automation.providers.composer import ComposerProvider


def composer_rows(provider: ComposerProvider) -> dict[str, str]:
    """Google runs the cluster: the environment as its API shows it, what `up` sets there, its Airflow's URL."""
    env = provider.describe()
    if env is None:
        return {"environment": f"not readable (`{provider.describe_command()}`)"}
    config = env.get("config") or {}
    software = software_config(env)
    differ = provider.variables_differing(env)
    rows = {"environment": f"{env.get('state', '?')}, {software.get('imageVersion', '?')}",
            "task facts": "AUTOMATION_* as `up` sets them" if not differ else
            f"{len(differ)} differ from the settings ({', '.join(differ)}): `up` sets them"}
    for kind, group in WORKLOAD_GROUP.items():
        listed_here = provider.runner.try_read(["gcloud", "composer", "environments", group, "list",
                                                *provider.where(), "--format=json"], timeout=120)
        names = {str(item.get("name", "")).rsplit("/", 1)[-1]
                 for item in (json.loads(listed_here.stdout or "[]") if listed_here else [])}
        wanted = [obj.name for obj in provider.project_objects() if type(obj).__name__ == kind]
        missing = sorted(set(wanted) - names)
        rows[f"{kind}s"] = f"present: {', '.join(n for n in wanted if n in names) or 'none'}" + (
            f"; absent: {', '.join(missing)}" if missing else "")
    rows["ui"] = str(config.get("airflowUri") or "not shown")
    return rows
