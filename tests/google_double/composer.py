"""Cloud Composer's rules beyond the generic methods, each one a sentence of the discovery document: user workloads
ConfigMaps and Secrets exist on Composer 3 only, a Secret's values are cleared when it is read, and the Airflow CLI
runs through executeAirflowCommand / pollAirflowCommand (what `gcloud composer environments run` calls), and
restartWebServer answers a finished operation carrying the environment."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.google_double.service import ApiError, Call, Service, not_found

# The documents' own words on every userWorkloads* method.
COMPOSER_3_ONLY = ("This method is supported for Cloud Composer environments in versions "
                   "composer-3-airflow-*.*.*-build.* and newer.")
_WORKLOADS = "composer.projects.locations.environments.userWorkloads"


@dataclass(frozen=True)
class AirflowCommand:
    """One `airflow ...` run through Composer's API, as gcloud asked for it."""

    environment: str
    command: str
    subcommand: str
    parameters: list[str] = field(default_factory=list)


# What a command prints and its exit code; a test replaces the default (no output, exit 0).
AirflowCli = Callable[[AirflowCommand], tuple[list[str], int]]


class Composer:
    def __init__(self, service: Service):
        self.service, self.state = service, service.state
        self.airflow_cli: AirflowCli = lambda command: ([], 0)
        self.commands: list[AirflowCommand] = []
        self._runs: dict[str, tuple[list[str], int]] = {}
        for verb in ("create", "get", "list", "update", "delete"):
            for kind in ("ConfigMaps", "Secrets"):
                service.custom[f"{_WORKLOADS}{kind}.{verb}"] = self.workloads
        environments = "composer.projects.locations.environments"
        service.custom[f"{environments}.executeAirflowCommand"] = self.execute
        service.custom[f"{environments}.pollAirflowCommand"] = self.poll
        service.custom[f"{environments}.restartWebServer"] = self.restart_web_server
        self.web_server_restarts: list[str] = []

    def environment(self, call: Call, name: str) -> dict[str, Any]:
        with self.state.lock:
            found = self.state.find("composer", name)
            if found is None:
                raise not_found(name)
            return self.state.table("composer")[found]

    def workloads(self, call: Call) -> Any:
        environment_name = "/".join(call.key.split("/")[:6])  # projects/P/locations/L/environments/E
        image = str(self.environment(call, environment_name).get("config", {}).get("softwareConfig", {})
                    .get("imageVersion", ""))
        if not image.startswith("composer-3-"):
            raise ApiError(400, COMPOSER_3_ONLY, status="FAILED_PRECONDITION")
        answer = self.service.standard(call)
        if call.method.id.endswith("Secrets.get"):  # "Values of the "data" field in the response are cleared."
            answer = {**answer, "data": dict.fromkeys(answer.get("data") or {}, "")}
        return answer

    def execute(self, call: Call) -> Any:
        body = dict(call.json or {})
        command = AirflowCommand(call.key, str(body.get("command", "")), str(body.get("subcommand", "")),
                                 [str(p) for p in body.get("parameters", [])])
        self.environment(call, call.key)
        lines, code = self.airflow_cli(command)
        execution = uuid.uuid4().hex
        with self.state.lock:
            self.commands.append(command)
            self._runs[execution] = (list(lines), code)
        return {"executionId": execution, "pod": "airflow-worker-double", "podNamespace": "composer-user-workloads"}

    def poll(self, call: Call) -> Any:
        body = dict(call.json or {})
        with self.state.lock:
            run = self._runs.get(str(body.get("executionId", "")))
        if run is None:
            raise not_found(f"{call.key}/executions/{body.get('executionId', '')}")
        lines, code = run
        start = int(body.get("nextLineNumber") or 1)
        output = [{"lineNumber": n, "content": line} for n, line in enumerate(lines, 1) if n >= start]
        return {**({"output": output} if output else {}), "outputEnd": True, "exitInfo": {"exitCode": code}}

    def restart_web_server(self, call: Call) -> Any:
        with self.state.lock:
            environment = self.environment(call, call.key)
            self.web_server_restarts.append(call.key)
            return self.service.finish(call, call.key, environment, "Environment", "UPDATE")
