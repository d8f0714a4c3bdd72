"""The double as an HTTP server on 127.0.0.1, and the environment that points the real gcloud at it.

gcloud is configured through its own environment only (CLOUDSDK_*): nothing in the product knows about the double.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.google_double.composer import Composer
from tests.google_double.discovery import APIS, NOT_GCLOUD, Surface
from tests.google_double.service import ACCESS_TOKEN, ApiError, Request, Service, stable_number
from tests.google_double.serviceusage import ServiceUsage
from tests.google_double.state import Recorded, State
from tests.google_double.storage import Storage

# APIs the double does not model, overridden all the same: a gcloud command that reaches for one gets a quick,
# recorded 404 (an unrouted request) instead of trying Google's real host.
ELSEWHERE = ("compute", "iamcredentials", "secrets", "sql", "pubsub", "monitoring", "cloudbuild", "run", "gkehub")

_SURFACE: Surface | None = None
_SURFACE_LOCK = threading.Lock()


def surface() -> Surface:
    """The route table, built once per process (reading nine discovery documents takes a fraction of a second)."""
    global _SURFACE
    with _SURFACE_LOCK:
        if _SURFACE is None:
            _SURFACE = Surface()
        return _SURFACE


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # gcloud keeps connections open; every reply carries Content-Length
    server: _Server

    def _serve(self) -> None:
        body = self._read_body()
        split = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        host = headers.get("host") or "{}:{}".format(*self.server.server_address[:2])
        request = Request(self.command, split.path, parse_qs(split.query, keep_blank_values=True), headers, body,
                          f"http://{host}")
        reply = self.server.double.service.handle(request)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(chunks)
                chunks.extend(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the double's record of requests is what a test reads."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], double: GoogleDouble):
        self.double = double
        super().__init__(address, _Handler)


class GoogleDouble:
    """A local stand-in for the Google APIs the product calls through gcloud (see the package's docstring)."""

    def __init__(self, project: str = "double-project", *, project_number: str = "123456789012",
                 host: str = "127.0.0.1", port: int = 0):
        self.project, self.project_number = project, project_number
        self.state = State()
        self.surface = surface()
        self.service = Service(self.surface, self.state, project, project_number)
        self.storage = Storage(self.service)
        self.composer = Composer(self.service)
        self.services = ServiceUsage(self.service)
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------------------------
    def start(self) -> GoogleDouble:
        self._server = _Server(self._address, self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="google-double", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GoogleDouble:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "the double is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- gcloud's view ----------------------------------------------------------------------------------------------
    def endpoint(self, api: str) -> str:
        """The value of CLOUDSDK_API_ENDPOINT_OVERRIDES_<API>. An override whose path is `/` makes gcloud append the
        client's own base path; any other path is taken as the whole base URL. The APIs whose base path is `/`
        (everything but Cloud Storage) get a path of their own, which gcloud extends with `v1/...`; Cloud Storage's
        client has the base path `/storage/v1/`, so its override must spell it out."""
        document = self.surface.document_of(api)
        return f"{self.url}/{document.mount}{document.service_path}"

    def environment(self, config_dir: str | os.PathLike[str]) -> dict[str, str]:
        """gcloud's environment for this double: a private configuration directory, an access token (never
        checked), no prompts, and every API the double serves overridden."""
        env = {
            "CLOUDSDK_CONFIG": str(config_dir),
            "CLOUDSDK_AUTH_ACCESS_TOKEN": ACCESS_TOKEN,
            "CLOUDSDK_CORE_PROJECT": self.project,
            "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
            "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "1",
            "CLOUDSDK_SURVEY_DISABLE_PROMPTS": "1",
            "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "1",
        }
        for api in (a for a in APIS if a not in NOT_GCLOUD):
            env[f"CLOUDSDK_API_ENDPOINT_OVERRIDES_{api.upper()}"] = self.endpoint(api)
        for api in ELSEWHERE:
            env[f"CLOUDSDK_API_ENDPOINT_OVERRIDES_{api.upper()}"] = f"{self.url}/{api}/"
        return env

    # -- what was sent ----------------------------------------------------------------------------------------------
    def requests(self, method: str | None = None, http_method: str | None = None) -> list[Recorded]:
        """The recorded requests, oldest first; `method` filters on the discovery id, or on an id's prefix ending
        in `.` ("composer.")."""
        with self.state.lock:
            records = list(self.state.records)
        return [r for r in records
                if (method is None or r.method == method or (method.endswith(".") and r.method.startswith(method)))
                and (http_method is None or r.http_method == http_method)]

    def unrouted(self) -> list[Recorded]:
        """Requests no published method matches: a call to an API or method the double does not serve."""
        return self.requests(method="")

    def methods(self) -> list[str]:
        """The discovery ids of every request, in order (unrouted requests as their HTTP method and path)."""
        return [r.method or f"{r.http_method} {r.path}" for r in self.requests()]

    def fail(self, method: str, code: int, message: str, *, status: str | None = None, times: int = 1) -> None:
        """The next `times` requests to `method` (a discovery id) answered with this error, after their checks
        pass: the product's handling of Google's refusals, through gcloud."""
        self.surface.method(method)  # a method Google publishes, or KeyError
        with self.state.lock:
            self.service.faults.setdefault(method, []).extend(
                ApiError(code, message, status=status) for _ in range(times))

    def forget(self) -> None:
        with self.state.lock:
            self.state.records.clear()

    # -- state ------------------------------------------------------------------------------------------------------
    def seed(self, api: str, name: str, resource: dict[str, Any]) -> dict[str, Any]:
        """A resource as if created earlier, checked against the schema its `get` method answers with (a seed
        Google could not hold is refused here, not discovered later in a gcloud error)."""
        method = next((m for m in self.surface.routes
                       if m.document.api == api and m.verb == "get" and not m.media
                       and m.match(m.document.mount + m.document.service_path
                                   + _version_prefix(str(m.spec["path"])) + name) is not None), None)
        if method is None or method.response is None:
            raise ValueError(f"no {api} get method names {name!r}")
        problems = self.service.checker(method.document).check(resource, method.response)
        if problems:
            raise ValueError(f"{api} {name}: " + "; ".join(p.description for p in problems))
        with self.state.lock:
            made = self.service.born(method.document, method.response, dict(resource), name)
            self.state.table(api)[name] = made
            return made

    def resource(self, api: str, name: str) -> dict[str, Any] | None:
        with self.state.lock:
            found = self.state.find(api, name)
            return self.state.table(api)[found] if found else None

    def seed_composer_environment(self, name: str = "composer-env", location: str = "us-central1", *,
                                  image_version: str = "composer-3-airflow-2.10.5-build.12",
                                  airflow_uri: str | None = None, bucket: str | None = None,
                                  env_variables: dict[str, str] | None = None,
                                  state: str = "RUNNING") -> dict[str, Any]:
        """A Composer environment with its bucket (`config.dagGcsPrefix` is gs://BUCKET/dags, as Composer makes
        it)."""
        bucket = bucket or f"{location}-{name}-bucket"
        key = f"projects/{self.project}/locations/{location}/environments/{name}"
        software: dict[str, Any] = {"imageVersion": image_version}
        if env_variables:
            software["envVariables"] = dict(env_variables)
        environment = {
            "name": key, "state": state, "uuid": f"{stable_number(key, 8)}-0000-4000-8000-000000000000",
            "config": {"airflowUri": airflow_uri or f"https://{name}-dot-{location}.composer.googleusercontent.com",
                       "dagGcsPrefix": f"gs://{bucket}/dags", "softwareConfig": software,
                       "environmentSize": "ENVIRONMENT_SIZE_SMALL"},
            "storageConfig": {"bucket": bucket},
        }
        if self.resource("storage", f"b/{bucket}") is None:
            self.seed_bucket(bucket, location)
        return self.seed("composer", key, environment)

    def seed_gke_cluster(self, name: str = "gke-cluster", location: str = "us-central1", *,
                         endpoint: str = "127.0.0.1", ca_certificate: bytes | str = b"",
                         client_certificate: bytes | str = b"", client_key: bytes | str = b"",
                         status: str = "RUNNING") -> dict[str, Any]:
        """A GKE cluster; `endpoint` (host or host:port) and `ca_certificate` (PEM) may name a real local API server,
        which `get-credentials` then writes into the kubeconfig. With a client certificate and key (PEM), gcloud's
        `container/use_client_certificate` property writes them there too, so kubectl reaches that server as the
        certificate's user (GKE's legacy client-certificate authentication, still in its API)."""
        def b64(value: bytes | str) -> str:
            return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()

        key = f"projects/{self.project}/locations/{location}/clusters/{name}"
        auth = {"clusterCaCertificate": b64(ca_certificate)}
        if client_certificate:
            auth.update(clientCertificate=b64(client_certificate), clientKey=b64(client_key))
        cluster = {"name": name, "location": location, "status": status, "endpoint": endpoint,
                   "masterAuth": auth,
                   "selfLink": f"https://container.googleapis.com/v1/{key}",
                   "currentMasterVersion": "1.32.4-gke.1000", "currentNodeVersion": "1.32.4-gke.1000",
                   "initialClusterVersion": "1.32.4-gke.1000", "zone": location}
        return self.seed("container", key, cluster)

    def seed_bucket(self, name: str, location: str = "US", **fields: Any) -> dict[str, Any]:
        try:
            return self.storage.make_bucket({"name": name, "location": location, **fields}, self.url)
        except ApiError as error:
            raise ValueError(error.message) from None

    def seed_object(self, bucket: str, name: str, data: bytes, content_type: str = "application/octet-stream"
                    ) -> dict[str, Any]:
        request = Request("POST", "", {}, {}, b"", self.url)
        return self.storage.put_object(request, bucket, name, data, {}, content_type, {})

    def object_bytes(self, bucket: str, name: str) -> bytes | None:
        with self.state.lock:
            return self.state.media.get(f"b/{bucket}/o/{name}")

    def objects(self, bucket: str) -> dict[str, bytes]:
        inside = f"b/{bucket}/o/"
        with self.state.lock:
            return {k.removeprefix(inside): v for k, v in self.state.media.items() if k.startswith(inside)}

    def seed_log_entries(self, entries: Iterable[dict[str, Any]]) -> None:
        checker = self.service.checker(self.surface.document_of("logging"))
        for entry in entries:
            problems = checker.check(entry, "LogEntry")
            if problems:
                raise ValueError("; ".join(p.description for p in problems))
            with self.state.lock:
                self.state.log_entries.append(dict(entry))

    def policy(self, api: str, name: str) -> dict[str, Any] | None:
        with self.state.lock:
            return self.state.policies.get(api, {}).get(name)


def _version_prefix(path: str) -> str:
    found = re.match(r"v\d[^/]*/", path)
    return found.group(0) if found else ""


def print_environment(double: GoogleDouble, config_dir: Path) -> str:
    """`export` lines to paste into another shell (the double keeps this one), then where it listens."""
    lines = [f"export {k}={shlex.quote(v)}" for k, v in sorted(double.environment(config_dir).items())]
    return "\n".join([*lines, f"# the Google APIs double listens on {double.url}; Ctrl-C stops it"])
