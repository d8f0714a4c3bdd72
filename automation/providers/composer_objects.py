"""Airflow's connections, variables and pools on Cloud Composer 3: the Airflow CLI through
`gcloud composer environments run ENV --location REGION --project PROJECT GROUP VERB -- ARGS` (Composer's way to
run `airflow connections|variables|pools ...`; no cluster access is needed).

Reads are `list -o json` (every failure counts as "none", so a dry run without credentials plans everything).
The CLI lists variables without their description: the ones this machine wrote (its ledger) are taken as ours.
Values travel in the gcloud request to Composer's API; this tool prints them masked.
"""

from __future__ import annotations

import json
from typing import Any

from automation.core.runner import Runner
from automation.providers.airflow_objects import REDACTED, Change, Ledger
from automation.settings.airflow_objects import description


class ComposerCliStore:
    where = "gcloud composer environments run"

    def __init__(self, runner: Runner, run: list[str], ledger: Ledger):
        self.runner = runner
        self.run = run  # gcloud composer environments run ENV --location REGION --project PROJECT
        self.ledger = ledger

    def _listed(self, kind: str) -> list[dict[str, Any]] | None:
        result = self.runner.try_read([*self.run, kind, "list", "--", "--output", "json"], timeout=300)
        if result is None:
            return None
        # Airflow logs a few lines of its own before the listing (some start with '[' too): the listing is
        # the line that parses as a JSON list.
        for line in reversed(result.stdout.splitlines()):
            if line.startswith("["):
                try:
                    data = json.loads(line)
                except ValueError:
                    continue
                if isinstance(data, list):
                    return [item for item in data if isinstance(item, dict)]
        return None

    def current(self, kind: str) -> dict[str, dict[str, Any]] | None:
        listed = self._listed(kind)
        if listed is None:
            return None
        if kind == "connections":
            return {str(c.get("conn_id")): {
                "connection_id": c.get("conn_id"), "conn_type": c.get("conn_type"),
                "description": c.get("description"), "host": c.get("host"), "login": c.get("login"),
                "schema": c.get("schema"), "port": c.get("port"),
                # Compared through the ledger, as the REST API's '***'.
                "password": REDACTED if c.get("password") else None,
                "extra": json.dumps(c["extra_dejson"]) if c.get("extra_dejson") else None,
            } for c in listed}
        if kind == "pools":
            return {str(p.get("pool")): {"name": p.get("pool"), "slots": p.get("slots"),
                                         "description": p.get("description"),
                                         "include_deferred": p.get("include_deferred", False)} for p in listed}
        ours = self.ledger.of("variables")
        keys = {str(v.get("key")) for v in listed}
        return {key: {"key": key, "value": REDACTED,
                      "description": description(None, ours[key]["project"]) if key in ours else None}
                for key in keys}

    def apply(self, kind: str, changes: list[Change]) -> None:
        for change in changes:
            for args in self.commands(kind, change):
                self.runner.run([*self.run, *args], timeout=600)

    @staticmethod
    def commands(kind: str, change: Change) -> list[list[str]]:
        """The Airflow CLI calls of one change: GROUP VERB -- ARGS."""
        if change.obj is None:
            return [[kind, "delete", "--", change.ident]]
        body = change.obj.body
        if kind == "connections":
            conn = {k: v for k, v in body.items() if k != "connection_id" and v is not None}
            add = [kind, "add", "--", change.ident, "--conn-json", json.dumps(conn, sort_keys=True)]
            # `connections add` refuses an existing id: an update replaces the connection.
            return [[kind, "delete", "--", change.ident], add] if change.action == "update" else [add]
        if kind == "variables":
            return [[kind, "set", "--", body["key"], body["value"], "--description", body["description"]]]
        return [[kind, "set", "--", body["name"], str(body["slots"]), body["description"],
                 *(["--include-deferred"] if body["include_deferred"] else [])]]
