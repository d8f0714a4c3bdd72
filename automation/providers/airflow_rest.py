"""Airflow's connections, variables and pools through its REST API (`/api/v2`): one paged list per kind to read,
one bulk request per kind to write (`PATCH /api/v2/KIND`: create with overwrite, delete). Used on every target
where `up` reaches Airflow's api-server: Minikube, an existing cluster, GKE and the Composer rehearsal."""

from __future__ import annotations

from typing import Any

from automation.airflow.client import AirflowApi
from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.providers.airflow_converge import ID_FIELD, Change

PAGE = 100
# What Airflow stores encrypted with the Fernet key: listing them fails (HTTP 500) under another key.
ENCRYPTED = ("connections", "variables")


class RestStore:
    def __init__(self, runner: Runner, api: AirflowApi | None):
        self.runner = runner
        self.api = api
        self.where = f"REST API at {api.url}" if api else "REST API"

    def current(self, kind: str) -> dict[str, dict[str, Any]] | None:
        if self.api is None:
            return None
        found: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            response = self.api.request("GET", f"/api/v2/{kind}", params={"limit": PAGE, "offset": offset},
                                        ok=(200, 500) if kind in ENCRYPTED else (200,))
            if response.status_code == 500:
                raise UserError(f"Airflow could not read the {kind} stored in its metadata database (HTTP 500 from "
                                f"{self.api.url}): they are encrypted with a Fernet key this target no longer has "
                                "(an external database kept after `down --purge`, or a key replaced by hand)",
                                "drop and recreate the metadata database (its encrypted values cannot be read "
                                "without the old key), or put the old key back in the core Secret; then `up` again")
            if response.status_code == 404:
                raise UserError(f"Airflow API at {self.api.url} has no /api/v2/{kind}",
                                "Airflow 3 is needed for connections, variables and pools as code")
            data = response.json()
            page = data.get(kind) or []
            found.update({str(item[ID_FIELD[kind]]): item for item in page})
            offset += len(page)
            if not page or offset >= int(data.get("total_entries", 0)):
                return found

    def apply(self, kind: str, changes: list[Change]) -> None:
        for change in changes:
            self.runner.plan(change.describe(self.where))
        if self.api is None or self.runner.dry_run:
            return
        actions: list[dict[str, Any]] = []
        writes = [c.obj.body for c in changes if c.obj is not None]
        if writes:
            # Create, or replace every field of an existing one: what is declared is the whole object.
            actions.append({"action": "create", "action_on_existence": "overwrite", "entities": writes})
        deletes = [c.ident for c in changes if c.action == "delete"]
        if deletes:
            actions.append({"action": "delete", "action_on_non_existence": "skip", "entities": deletes})
        response = self.api.request("PATCH", f"/api/v2/{kind}", json={"actions": actions})
        if response.status_code == 404:
            raise UserError(f"Airflow API at {self.api.url} has no bulk PATCH /api/v2/{kind}",
                            "Airflow 3 is needed for connections, variables and pools as code")
        for action, result in (response.json() or {}).items():
            errors = (result or {}).get("errors") or []
            if errors:
                first = errors[0]
                detail = " ".join(str(first.get("error", first)).split())[:200]
                raise UserError(f"Airflow refused to {action} {kind}: {detail}",
                                "fix the entry in the project's airflow.yaml, then run `up` again")
