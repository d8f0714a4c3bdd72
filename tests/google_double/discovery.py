"""Google's published API surface, read from the discovery documents that ship in google-api-python-client.

The double routes and checks every request against exactly what Google publishes (methods, paths, parameters,
request and response schemas), never against a hand-written copy that could drift from the real API.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import unquote

# CLOUDSDK_API_ENDPOINT_OVERRIDES_<NAME> -> the discovery documents served behind that override. gcloud has one
# override per API whatever the version (Resource Manager's v1 and v3 share one); the versions are those gcloud's GA
# commands call.
APIS: dict[str, tuple[str, ...]] = {
    "composer": ("composer.v1", "composer.v1beta1"),  # v1beta1: `gcloud beta composer` (restart-web-server)
    "container": ("container.v1",),
    "iam": ("iam.v1",),
    "cloudresourcemanager": ("cloudresourcemanager.v1", "cloudresourcemanager.v3"),
    "serviceusage": ("serviceusage.v1",),
    "artifactregistry": ("artifactregistry.v1",),
    "logging": ("logging.v2",),
    "storage": ("storage.v1",),
    # Not gcloud's: the tokeninfo method, which the Composer rehearsal's API server asks about a bearer token.
    "oauth2": ("oauth2.v2",),
}
# The APIs above that no gcloud command calls (no CLOUDSDK_API_ENDPOINT_OVERRIDES_<NAME> exists for them).
NOT_GCLOUD = ("oauth2",)

# The protobuf package of each document's messages. Google names messages by it where JSON carries a type: an
# Operation's `response`/`metadata` (`@type`) and the type of a refused value in an INVALID_ARGUMENT message.
PROTO_PACKAGES = {
    "composer.v1": "google.cloud.orchestration.airflow.service.v1",
    "composer.v1beta1": "google.cloud.orchestration.airflow.service.v1beta1",
    "container.v1": "google.container.v1",
    "iam.v1": "google.iam.admin.v1",
    "cloudresourcemanager.v1": "google.cloudresourcemanager.v1",
    "cloudresourcemanager.v3": "google.cloud.resourcemanager.v3",
    "serviceusage.v1": "google.api.serviceusage.v1",
    "artifactregistry.v1": "google.devtools.artifactregistry.v1",
    "logging.v2": "google.logging.v2",
    "storage.v1": "google.storage.v1",
    "oauth2.v2": "google.identity.oauth2.v2",
}

_PARAMETER = re.compile(r"\{(\+?)([^}]+)\}")


def load_document(name: str) -> dict[str, Any]:
    """One discovery document from the installed google-api-python-client (found through the package, so any
    virtualenv or nox session works)."""
    documents = resources.files("googleapiclient.discovery_cache").joinpath("documents")
    return dict(json.loads(documents.joinpath(f"{name}.json").read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Document:
    api: str  # the override's name
    name: str  # "composer.v1"
    data: dict[str, Any] = field(repr=False)

    @property
    def schemas(self) -> dict[str, Any]:
        schemas: dict[str, Any] = self.data.get("schemas", {})  # read on every check: not copied
        return schemas

    @property
    def standard_parameters(self) -> dict[str, Any]:
        """Parameters every method takes (alt, fields, prettyPrint, uploadType, ...)."""
        return dict(self.data.get("parameters", {}))

    @property
    def service_path(self) -> str:
        return str(self.data.get("servicePath", ""))

    @property
    def mount(self) -> str:
        """Where this API lives on the double. An API whose requests start at the host's root (servicePath "") is
        mounted under its own name, because several such APIs share paths (`v1/{+name}` for operations in
        Composer and Artifact Registry alike). Cloud Storage stays at the root: gcloud derives its upload and
        download URLs from the host alone (`/upload/storage/v1/...`, `/download/storage/v1/...`)."""
        return "" if self.service_path else f"{self.api}/"

    @property
    def legacy_errors(self) -> bool:
        """Cloud Storage's JSON API answers errors in its own shape (`errors` with domain and reason), not
        google.rpc.Status's."""
        return self.api == "storage"

    def type_url(self, schema: str) -> str:
        return f"type.googleapis.com/{PROTO_PACKAGES[self.name]}.{schema}"


@dataclass(frozen=True)
class Method:
    document: Document
    spec: dict[str, Any] = field(repr=False)
    template: str  # below the double's root, with {name} / {+name} placeholders
    media: str  # "" for JSON, "upload" or "download" for the media routes of a method
    regex: re.Pattern[str] = field(repr=False)
    names: tuple[str, ...]
    specificity: int

    @property
    def id(self) -> str:
        return str(self.spec["id"])

    @property
    def verb(self) -> str:
        return self.id.rsplit(".", 1)[1]

    @property
    def http_method(self) -> str:
        return str(self.spec["httpMethod"])

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.spec.get("parameters", {}))

    @property
    def request(self) -> str | None:
        ref = self.spec.get("request", {}).get("$ref")
        return str(ref) if ref else None

    @property
    def response(self) -> str | None:
        ref = self.spec.get("response", {}).get("$ref")
        return str(ref) if ref else None

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        # `[^/]+` would take `env:frobnicate`: a custom verb the template does not publish is an unknown method.
        if self.document.mount and ":" in path.rsplit("/", 1)[-1] and ":" not in self.template.rsplit("/", 1)[-1]:
            return None
        return {name: unquote(found.group(f"p{i}")) for i, name in enumerate(self.names)}


def _compile(template: str, parameters: dict[str, Any]) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """A path template as a regular expression: `{+name}` takes the parameter's published pattern (slashes
    included), `{name}` one path segment."""
    parts: list[str] = []
    names: list[str] = []
    position = 0
    for placeholder in _PARAMETER.finditer(template):
        parts.append(re.escape(template[position:placeholder.start()]))
        reserved, name = placeholder.groups()
        pattern = str(parameters.get(name, {}).get("pattern", ""))
        expression = "[^/]+"
        if reserved:
            expression = pattern.removeprefix("^").removesuffix("$") if pattern else ".+"
        parts.append(f"(?P<p{len(names)}>{expression})")
        names.append(name)
        position = placeholder.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts)), tuple(names)


def _literal_length(template: str) -> int:
    return len(_PARAMETER.sub("", template))


def _methods(resources_: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for resource in resources_.values():
        found.extend(resource.get("methods", {}).values())
        found.extend(_methods(resource.get("resources", {})))
    return found


def _routes(document: Document) -> list[Method]:
    routes: list[Method] = []

    def add(spec: dict[str, Any], template: str, media: str, flat: str) -> None:
        regex, names = _compile(template, spec.get("parameters", {}))
        routes.append(Method(document, spec, template, media, regex, names, _literal_length(flat)))

    # Methods of the document itself (oauth2's tokeninfo), then those of its resources.
    top = list(document.data.get("methods", {}).values())
    for spec in top + _methods(document.data.get("resources", {})):
        base = document.mount + document.service_path
        add(spec, base + spec["path"], "", base + spec.get("flatPath", spec["path"]))
        for protocol in spec.get("mediaUpload", {}).get("protocols", {}).values():
            # Upload paths are absolute: they start at the host's root, whatever the mount.
            path = str(protocol["path"]).lstrip("/")
            add(spec, path, "upload", path)
        if spec.get("useMediaDownloadService"):
            path = f"{document.mount}download/{document.service_path}{spec['path']}"
            add(spec, path, "download", path)
    return routes


class Surface:
    """Every route of every API the double serves, from the discovery documents alone."""

    def __init__(self, apis: dict[str, tuple[str, ...]] | None = None):
        self.documents: dict[str, Document] = {}
        self.routes: list[Method] = []
        for api, names in (apis or APIS).items():
            for name in names:
                document = Document(api, name, load_document(name))
                self.documents[name] = document
                self.routes.extend(_routes(document))
        # The most specific template first: a custom verb (`v1/{+name}:restartWebServer`) or a literal collection
        # wins over a bare `v1/{+name}` whose pattern would also take the path.
        self.routes.sort(key=lambda m: (-m.specificity, len(m.names)))

    def route(self, http_method: str, path: str) -> tuple[Method, dict[str, str]] | None:
        for method in self.routes:
            if method.http_method != http_method:
                continue
            values = method.match(path)
            if values is not None:
                return method, values
        return None

    def allowed(self, path: str) -> list[str]:
        """The HTTP methods some route takes at this path (to tell a wrong verb from an unknown path)."""
        return sorted({m.http_method for m in self.routes if m.match(path) is not None})

    def method(self, method_id: str) -> Method:
        for method in self.routes:
            if method.id == method_id and not method.media:
                return method
        raise KeyError(method_id)

    def document_of(self, api: str) -> Document:
        return next(d for d in self.documents.values() if d.api == api)
