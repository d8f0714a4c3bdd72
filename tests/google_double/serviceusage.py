"""Service Usage: every Google API exists in every project, DISABLED until enabled (what `gcloud services` reads
and changes). Enabling answers an Operation already done, like every other mutation of the double."""

from __future__ import annotations

from typing import Any

from tests.google_double.service import Call, Service


class ServiceUsage:
    def __init__(self, service: Service):
        self.service, self.state = service, service.state
        service.custom.update({
            "serviceusage.services.get": self.get,
            "serviceusage.services.list": self.list_services,
            "serviceusage.services.enable": lambda call: self.switch(call, [call.key], "ENABLED"),
            "serviceusage.services.disable": lambda call: self.switch(call, [call.key], "DISABLED"),
            "serviceusage.services.batchEnable": lambda call: self.switch(
                call, [f"{call.key}/{s}" for s in (call.json or {}).get("serviceIds", [])], "ENABLED"),
        })

    def _service(self, name: str) -> dict[str, Any]:
        parent = name.split("/services/", 1)[0]
        found = self.state.table("serviceusage").get(name)
        return found or {"name": name, "parent": parent, "state": "DISABLED",
                         "config": {"name": name.rsplit("/", 1)[-1]}}

    def get(self, call: Call) -> Any:
        with self.state.lock:
            return self._service(call.key)

    def list_services(self, call: Call) -> Any:
        wanted = call.query("filter").removeprefix("state:")
        with self.state.lock:
            table = self.state.table("serviceusage")
            services = [table[name] for name in self.state.children("serviceusage", call.key)
                        if not wanted or table[name]["state"] == wanted]
        return {"services": services} if services else {}

    def switch(self, call: Call, names: list[str], state: str) -> Any:
        with self.state.lock:
            changed = []
            for name in names:
                made = {**self._service(name), "state": state}
                self.state.table("serviceusage")[name] = made
                changed.append(made)
            if call.method.verb == "batchEnable":
                return self.service.finish(call, call.key, {"services": changed}, "BatchEnableServicesResponse",
                                           "ENABLE")
            schema = "EnableServiceResponse" if state == "ENABLED" else "DisableServiceResponse"
            return self.service.finish(call, call.key, {"service": changed[0]}, schema, state[:-1])
