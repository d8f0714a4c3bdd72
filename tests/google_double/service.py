"""What the double answers: one generic behaviour for Google's standard methods (get, list, create/insert,
patch/update, delete), long-running operations returned done, IAM policies on any resource, and a handful of custom
methods. Every request is routed and checked against the discovery documents first; every answer is cut to the
method's response schema, and an answer the schema would refuse is the double's own bug (a 500, never a pass)."""

from __future__ import annotations

import hashlib
import json
import re
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.google_double.discovery import Document, Method, Surface
from tests.google_double.schema import Checker, Violation, body_field, proto_name
from tests.google_double.state import Recorded, State, now

_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION", 500: "INTERNAL", 501: "UNIMPLEMENTED"}
_REASON = {400: "invalid", 401: "required", 403: "forbidden", 404: "notFound", 409: "conflict",
           412: "conditionNotMet", 500: "backendError", 501: "notImplemented"}
_VERSION = re.compile(r"^v\d[^/]*/")
_CUSTOM_VERB = re.compile(r":[A-Za-z]+$")
_PARAMETER = re.compile(r"\{\+?([^}]+)\}")
_IAM_VERBS = ("getIamPolicy", "setIamPolicy", "testIamPermissions")
_EMPTY_POLICY_ETAG = "ACAB"  # what Google answers for a resource that never had a policy
_ALIVE = ("RUNNING", "ACTIVE", "ENABLED", "READY")  # a new resource's state, the first its enum publishes


@dataclass
class Request:
    http_method: str
    path: str  # as sent, percent-encoded
    query: dict[str, list[str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    base_url: str  # scheme://host:port as the client addressed the double


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    def __init__(self, code: int, message: str, *, status: str | None = None, reason: str | None = None,
                 violations: Sequence[Violation] = (), details: Sequence[dict[str, Any]] = ()):
        super().__init__(message)
        self.code, self.message, self.violations, self.details = code, message, list(violations), list(details)
        self.status = status or _STATUS.get(code, "UNKNOWN")
        self.reason = reason or _REASON.get(code, "invalid")

    def body(self, legacy: bool) -> dict[str, Any]:
        if legacy:  # Cloud Storage's JSON API shape
            return {"error": {"code": self.code, "message": self.message,
                              "errors": [{"message": self.message, "domain": "global", "reason": self.reason}]}}
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        details = list(self.details)
        if self.violations:
            details.append({"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [
                {"field": v.field, "description": v.description} if v.field else {"description": v.description}
                for v in self.violations]})
        if details:
            error["details"] = details
        return {"error": error}


def not_found(key: str) -> ApiError:
    return ApiError(404, f"Resource '{key}' was not found")


@dataclass
class Call:
    """A routed, checked request."""

    request: Request
    method: Method
    values: dict[str, str]  # path parameters, decoded
    key: str  # the resource (or collection) the path names, without version or custom verb
    json: Any
    media: bytes | None = None

    @property
    def document(self) -> Document:
        return self.method.document

    @property
    def api(self) -> str:
        return self.document.api

    def query(self, name: str, default: str = "") -> str:
        return self.request.query.get(name, [default])[0]


def resource_key(method: Method, values: dict[str, str]) -> str:
    template = _VERSION.sub("", str(method.spec["path"]))
    key = _PARAMETER.sub(lambda found: values[found.group(1)], template)
    if _CUSTOM_VERB.search(template):
        key = _CUSTOM_VERB.sub("", key)
    if method.verb in _IAM_VERBS:
        key = key.removesuffix("/iam")  # Cloud Storage: b/{bucket}/iam
    return key


def singular(collection: str) -> str:
    last = collection.rsplit("/", 1)[-1]
    return last[:-3] + "y" if last.endswith("ies") else last.removesuffix("s")


# The access token gcloud is given for the double (CLOUDSDK_AUTH_ACCESS_TOKEN) and the account it stands for.
ACCESS_TOKEN = "google-double-token"
ACCOUNT_EMAIL = "developer@double-project.example"


class Service:
    def __init__(self, surface: Surface, state: State, project: str, project_number: str):
        self.surface, self.state = surface, state
        self.project, self.project_number = project, project_number
        self.checkers = {name: Checker(document) for name, document in surface.documents.items()}
        # Methods whose behaviour the generic one cannot infer from the document.
        self.custom: dict[str, Callable[[Call], Any]] = {
            "iam.projects.serviceAccounts.create": self._create_service_account,
            "cloudresourcemanager.projects.get": self._get_project,
            "logging.entries.list": self._list_log_entries,
            "oauth2.tokeninfo": self._tokeninfo,
        }
        # Requests no discovery route describes (Cloud Storage's resumable upload sessions): tried first.
        self.preroutes: list[Callable[[Request], Reply | None]] = []
        # Errors a test asked for (method id -> errors to answer, in order), after the request passed its checks.
        self.faults: dict[str, list[ApiError]] = {}
        # The metadata and bytes of a media upload (Cloud Storage's protocols), for the upload routes.
        self.read_upload: Callable[[Call], tuple[Any, bytes | None]] | None = None

    def checker(self, document: Document) -> Checker:
        return self.checkers[document.name]

    # -- the request cycle ------------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Reply:
        routed = self.surface.route(request.http_method, request.path.lstrip("/"))
        document = routed[0].document if routed else self._document_at(request.path)
        method_id, recorded_body, media = "", _json_or_none(request.body), None
        try:
            if not request.headers.get("authorization", "").startswith("Bearer "):
                raise ApiError(401, "Request is missing required authentication credential. Expected OAuth 2 "
                                    "access token, login cookie or other valid authentication credential.",
                               reason="required")
            for preroute in self.preroutes:
                early = preroute(request)
                if early is not None:
                    self._record(request, "storage.objects.insert", None, request.body, early.status)
                    return early
            if routed is None:
                raise ApiError(404, "Method not found." if document else
                               f"The requested URL {request.path} was not found on this server.")
            method, values = routed
            method_id = method.id
            call = self._check(request, method, values)
            recorded_body, media = call.json, call.media
            reply = self._answer(call)
        except ApiError as error:
            legacy = document.legacy_errors if document else False
            reply = self._json(error.code, error.body(legacy))
        except Exception as error:  # the double's own bug: answered (gcloud would retry a dropped connection)
            with self.state.lock:
                self.state.failures.append(traceback.format_exc())
            reply = self._json(500, ApiError(500, f"the Google APIs double failed: {error!r}").body(False))
        self._record(request, method_id, recorded_body, media, reply.status)
        return reply

    def _record(self, request: Request, method_id: str, body: Any, media: bytes | None, status: int) -> None:
        with self.state.lock:
            self.state.records.append(Recorded(method_id, request.http_method, request.path, request.query, body,
                                               media, status))

    def _document_at(self, path: str) -> Document | None:
        """The API an unrouted path belongs to (for the shape of its 404), by the first segment of the path."""
        first = path.lstrip("/").split("/", 1)[0]
        for document in self.surface.documents.values():
            if document.mount and first == document.mount.rstrip("/"):
                return document
            if not document.mount and first in ("upload", "download", "resumable",
                                                document.service_path.split("/", 1)[0]):
                return document
        return None

    def _check(self, request: Request, method: Method, values: dict[str, str]) -> Call:
        """The query parameters and the body against the method's published parameters and request schema."""
        document, checker = method.document, self.checker(method.document)
        published = {**document.standard_parameters,
                     **{k: v for k, v in method.parameters.items() if v.get("location") == "query"}}
        violations: list[Violation] = []
        for name, given in request.query.items():
            spec = published.get(name)
            if spec is None:
                violations.append(Violation(
                    "", f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter. '
                        f"Field '{name}' could not be found in request message."))
            else:
                violations.extend(checker.check_parameter(name, given, spec))
        call = Call(request, method, values, resource_key(method, values), None)
        if method.media == "upload":
            if self.read_upload is None:
                raise ApiError(501, f"{method.id}: media uploads are not modelled", status="UNIMPLEMENTED")
            call.json, call.media = self.read_upload(call)
        elif method.request is not None:
            call.json = parse_json_body(request.body)
        if method.request is not None and call.json is not None:
            prefix = "" if document.legacy_errors else body_field(method.request)
            violations.extend(checker.check(call.json, method.request, prefix))
        if violations:
            raise ApiError(400, "\n".join(v.description for v in violations), violations=violations)
        return call

    def _answer(self, call: Call) -> Reply:
        result = self._dispatch(call)
        if isinstance(result, Reply):
            return result
        schema = call.method.response
        if schema is None:
            return self._json(200, result)
        checker = self.checker(call.document)
        shaped = checker.project(result, schema)
        wrong = checker.check(shaped, schema)
        if wrong:
            raise ApiError(500, "the double answered outside the response schema: "
                                + "; ".join(v.description for v in wrong))
        return self._json(200, shaped)

    @staticmethod
    def _json(status: int, value: Any) -> Reply:
        return Reply(status, json.dumps(value).encode(), {"Content-Type": "application/json; charset=UTF-8"})

    def _dispatch(self, call: Call) -> Any:
        with self.state.lock:
            planned = self.faults.get(call.method.id)
            if planned:
                raise planned.pop(0)
        custom = self.custom.get(call.method.id)
        return custom(call) if custom is not None else self.standard(call)

    def standard(self, call: Call) -> Any:
        """The behaviour Google's resource-oriented design gives a method of this name."""
        verb, http = call.method.verb, call.method.http_method
        if verb in _IAM_VERBS:
            return {"getIamPolicy": self._get_policy, "setIamPolicy": self._set_policy,
                    "testIamPermissions": self._test_permissions}[verb](call)
        standard: dict[tuple[str, str], Callable[[Call], Any]] = {
            ("get", "GET"): self._get, ("list", "GET"): self._list, ("create", "POST"): self._create,
            ("insert", "POST"): self._create, ("patch", "PATCH"): self._patch, ("update", "PUT"): self._update,
            ("update", "PATCH"): self._patch, ("delete", "DELETE"): self._delete}
        handler = standard.get((verb, http))
        wrapped = call.method.request is not None and call.method.request.endswith("Request")
        if handler is None or (wrapped and verb in ("patch", "update")):
            raise ApiError(501, f"{call.method.id} is published by Google but not modelled by the double",
                           status="UNIMPLEMENTED")
        with self.state.lock:
            return handler(call)

    # -- standard methods -------------------------------------------------------------------------------------------
    def schema_properties(self, document: Document, schema: str | None) -> dict[str, Any]:
        return dict(document.schemas.get(schema or "", {}).get("properties", {}))

    def stored(self, call: Call) -> tuple[str, dict[str, Any]]:
        name = self.state.find(call.api, call.key)
        if name is None:
            raise not_found(call.key)
        return name, self.state.table(call.api)[name]

    def _get(self, call: Call) -> Any:
        return self.stored(call)[1]

    def require_parent(self, call: Call) -> None:
        """A collection's owner must exist (an environment's config maps); projects and locations always do."""
        parent = call.key.rsplit("/", 1)[0]
        if "/" in call.key and not re.fullmatch(r"projects/[^/]+(/locations/[^/]+)?", parent) \
                and self.state.find(call.api, parent) is None:
            raise not_found(parent)

    def _list(self, call: Call) -> Any:
        self.require_parent(call)
        table = self.state.table(call.api)
        items = [table[name] for name in self.state.children(call.api, call.key)]
        return {self.list_field(call.document, call.method.response): items} if items else {}

    @staticmethod
    def list_field(document: Document, response: str | None) -> str:
        for name, spec in document.schemas.get(response or "", {}).get("properties", {}).items():
            if spec.get("type") == "array" and "$ref" in spec.get("items", {}):
                return str(name)
        raise ApiError(501, f"no list field in {response}", status="UNIMPLEMENTED")

    def _resource_of(self, call: Call) -> tuple[dict[str, Any], str]:
        """The new resource in a create's body: the body itself, or the field of a `Create...Request` named after
        the collection (`cluster` in CreateClusterRequest)."""
        schema = call.method.request or ""
        if not schema.endswith("Request"):
            return dict(call.json or {}), schema
        wrapped = self.schema_properties(call.document, schema).get(singular(call.key), {})
        if "$ref" not in wrapped:
            raise ApiError(501, f"{call.method.id}: no resource field in {schema}", status="UNIMPLEMENTED")
        return dict((call.json or {}).get(singular(call.key)) or {}), str(wrapped["$ref"])

    def _create(self, call: Call) -> Any:
        self.require_parent(call)
        resource, schema = self._resource_of(call)
        resource_id = next((call.query(name) for name, spec in call.method.parameters.items()
                            if spec.get("location") == "query" and name.endswith("Id") and name in call.request.query),
                           None)
        if resource_id is None:
            name = str(resource.get("name") or "")
            if not name:
                raise ApiError(400, f"{proto_name(singular(call.key))}.name is required",
                               violations=[Violation(f"{proto_name(singular(call.key))}.name", "required")])
            if "/" in name and name.rsplit("/", 1)[0] != call.key:
                raise ApiError(400, f"name {name!r} is not in the collection {call.key!r}")
            resource_id = name.rsplit("/", 1)[-1]
        key = f"{call.key}/{resource_id}"
        if self.state.find(call.api, key) is not None:
            raise ApiError(409, f"Resource '{key}' already exists")
        resource = self.born(call.document, schema, resource, key)
        self.state.table(call.api)[key] = resource
        return self.finish(call, key, resource, schema, "CREATE")

    def born(self, document: Document, schema: str, resource: dict[str, Any], key: str) -> dict[str, Any]:
        """Google's output-only fields of a new resource: its full name, times, a live state."""
        properties = self.schema_properties(document, schema)
        if "name" in properties and not resource.get("name"):
            resource["name"] = key
        for stamp in ("createTime", "updateTime"):
            if stamp in properties:
                resource.setdefault(stamp, now())
        for state_field in ("state", "status"):
            enum = properties.get(state_field, {}).get("enum", [])
            alive = next((value for value in _ALIVE if value in enum), None)
            if alive and state_field not in resource:
                resource[state_field] = alive
        return resource

    def _patch(self, call: Call) -> Any:
        name, stored = self.stored(call)
        body = dict(call.json or {})
        mask = call.query("updateMask")
        if mask:
            for path in filter(None, (p.strip() for p in mask.split(","))):
                _copy_path(body, stored, path.split("."))
        else:
            _merge(stored, body)
        schema = call.method.request or ""
        if "updateTime" in self.schema_properties(call.document, schema):
            stored["updateTime"] = now()
        return self.finish(call, name, stored, schema, "UPDATE")

    def _update(self, call: Call) -> Any:
        name, stored = self.stored(call)
        schema = call.method.request or ""
        replaced = self.born(call.document, schema, dict(call.json or {}), name)
        for kept in ("name", "createTime"):
            if kept in stored:
                replaced[kept] = stored[kept]
        self.state.table(call.api)[name] = replaced
        return self.finish(call, name, replaced, schema, "UPDATE")

    def _delete(self, call: Call) -> Any:
        name, _ = self.stored(call)
        self.state.remove(call.api, name)
        return self.finish(call, name, None, "", "DELETE")

    # -- long-running operations ------------------------------------------------------------------------------------
    def finish(self, call: Call, key: str, resource: dict[str, Any] | None, schema: str, kind: str) -> Any:
        """The method's answer: the resource itself, or an Operation already done that carries it (stored, so that
        operations.get finds it)."""
        response = call.method.response or ""
        properties = self.schema_properties(call.document, response)
        if response != "Operation" or not properties:
            return resource if resource is not None else {}
        document = call.document
        operation_key, operation_id = self.operation_name(document, key)
        stamp = now()
        operation: dict[str, Any]
        if "done" in properties:  # google.longrunning.Operation
            operation = {"name": operation_key, "done": True,
                         "response": ({"@type": document.type_url(schema), **resource} if resource is not None
                                      else {"@type": "type.googleapis.com/google.protobuf.Empty"})}
            if "OperationMetadata" in document.schemas:
                metadata = self.checker(document).project(
                    {"createTime": stamp, "endTime": stamp, "operationType": kind, "resource": key,
                     "state": "SUCCEEDED", "verb": kind.lower(), "target": key}, "OperationMetadata")
                enum = self.schema_properties(document, "OperationMetadata").get("operationType", {}).get("enum")
                if enum and metadata.get("operationType") not in enum:
                    metadata.pop("operationType")
                operation["metadata"] = {"@type": document.type_url("OperationMetadata"), **metadata}
        else:  # Kubernetes Engine's own Operation
            kinds = properties.get("operationType", {}).get("enum", [])
            wanted = f"{kind}_{singular(key.rsplit('/', 1)[0]).upper()}"
            operation = {"name": operation_id,
                         "operationType": wanted if wanted in kinds else "TYPE_UNSPECIFIED",
                         "status": "DONE", "startTime": stamp, "endTime": stamp,
                         "selfLink": f"{call.request.base_url}/{document.mount}v1/{operation_key}",
                         "targetLink": f"{call.request.base_url}/{document.mount}v1/{key}"}
            location = _segment_after(key.split("/"), "locations")
            if location:
                operation["location"] = location
        self.state.table(call.api)[operation_key] = operation
        return operation

    def operation_name(self, document: Document, key: str) -> tuple[str, str]:
        """A new operation's name, in the form the document's own operations.get publishes, filled from the
        resource's name (`projects/P/locations/L/operations/ID`, or `operations/ID`)."""
        operation_id = f"operation-{int(time.time() * 1000)}-{uuid.uuid4().hex[:8]}"
        parts = key.split("/")
        patterns = sorted((str(m.parameters["name"]["pattern"]) for m in self.surface.routes
                           if m.document is document and m.id.endswith("operations.get") and not m.media
                           and "pattern" in m.parameters.get("name", {})), key=len, reverse=True)
        for pattern in patterns:
            template = pattern.removeprefix("^").removesuffix("$").replace("[^/]+", "*").replace(".*", "*").split("/")
            filled: list[str] = []
            for index, part in enumerate(template):
                if part != "*":
                    filled.append(part)
                elif index == len(template) - 1:
                    filled.append(operation_id)
                elif index and _segment_after(parts, template[index - 1]):
                    filled.append(_segment_after(parts, template[index - 1]))
                else:
                    break
            else:
                return "/".join(filled), operation_id
        return f"operations/{operation_id}", operation_id

    # -- IAM --------------------------------------------------------------------------------------------------------
    def _policy_target(self, call: Call) -> str:
        name = self.state.find(call.api, call.key)
        if name is not None:
            return name
        if re.fullmatch(r"projects/[^/]+", call.key):  # every project exists: the double stands for Google
            return call.key
        raise not_found(call.key)

    def _empty_policy(self, call: Call, target: str) -> dict[str, Any]:
        if call.document.legacy_errors:
            return {"resourceId": f"projects/_/buckets/{target.split('/')[1]}", "version": 1, "etag": "CAE="}
        return {"version": 1, "etag": _EMPTY_POLICY_ETAG}

    def _get_policy(self, call: Call) -> Any:
        with self.state.lock:
            target = self._policy_target(call)
            return self.state.policies.get(call.api, {}).get(target) or self._empty_policy(call, target)

    def _set_policy(self, call: Call) -> Any:
        wrapped = call.method.request == "SetIamPolicyRequest"
        new = dict((call.json or {}).get("policy") or {}) if wrapped else dict(call.json or {})
        with self.state.lock:
            target = self._policy_target(call)
            policies = self.state.policies.setdefault(call.api, {})
            current = policies.get(target) or self._empty_policy(call, target)
            if new.get("etag") and new["etag"] != current["etag"]:
                if call.document.legacy_errors:
                    raise ApiError(412, "At least one of the pre-conditions you specified did not hold.")
                raise ApiError(409, "There were concurrent policy changes. Please retry the whole "
                                    "read-modify-write with exponential backoff.", status="ABORTED")
            bindings = [b for b in new.get("bindings", []) if b.get("members")]
            policy = {**current, **new, "bindings": bindings, "etag": self.state.next_etag()}
            policy["version"] = new.get("version") or current.get("version", 1)
            if not bindings:
                policy.pop("bindings")
            policies[target] = policy
            return policy

    def _test_permissions(self, call: Call) -> Any:
        with self.state.lock:
            self._policy_target(call)
        asked = (call.json or {}).get("permissions") or call.request.query.get("permissions", [])
        return {"permissions": list(asked)} if asked else {}

    # -- custom methods ---------------------------------------------------------------------------------------------
    def _tokeninfo(self, call: Call) -> Any:
        """What Google says of an access token: the double's own (the one gcloud is given) belongs to
        ACCOUNT_EMAIL; any other is refused, as Google refuses an expired or made-up token."""
        if call.query("access_token") != ACCESS_TOKEN:
            raise ApiError(400, "Invalid Value", status="INVALID_ARGUMENT")
        return {"email": ACCOUNT_EMAIL, "verified_email": True, "expires_in": 3599, "issued_to": "double",
                "audience": "double", "user_id": "1", "scope": "openid https://www.googleapis.com/auth/userinfo.email "
                "https://www.googleapis.com/auth/cloud-platform"}

    def _create_service_account(self, call: Call) -> Any:
        body = dict(call.json or {})
        account_id = str(body.get("accountId", ""))
        project = call.values["name"].split("/")[1]
        problem = ""
        if not 6 <= len(account_id) <= 30:
            problem = f'The account ID "{account_id}" does not have a length between 6 and 30.'  # IAM's words
        elif not re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])", account_id):
            problem = f'The account ID "{account_id}" does not match [a-z]([-a-z0-9]*[a-z0-9]).'
        if problem:
            raise ApiError(400, problem, details=[{"@type": "type.googleapis.com/google.rpc.DebugInfo",
                                                   "detail": problem}])
        email = f"{account_id}@{project}.iam.gserviceaccount.com"
        key = f"projects/{project}/serviceAccounts/{email}"
        with self.state.lock:
            if key in self.state.table(call.api):
                raise ApiError(409, f"Service account {account_id} already exists within project "
                                    f"projects/{project}.")
            unique_id = str(100000000000000000000 + len(self.state.table(call.api)))
            account = {**(body.get("serviceAccount") or {}), "name": key, "projectId": project, "email": email,
                       "uniqueId": unique_id, "oauth2ClientId": unique_id, "etag": "MDEwMjE5MjA="}
            self.state.table(call.api)[key] = account
        return account

    def _get_project(self, call: Call) -> Any:
        with self.state.lock:
            name = self.state.find(call.api, call.key)
            if name is not None:
                return self.state.table(call.api)[name]
        project = call.key.split("/", 1)[1]
        number = self.project_number if project == self.project else stable_number(project)
        if call.document.name.endswith("v1"):
            return {"projectId": project, "projectNumber": number, "name": project, "lifecycleState": "ACTIVE",
                    "createTime": "2024-01-01T00:00:00.000Z"}
        return {"name": f"projects/{number}", "projectId": project, "displayName": project, "state": "ACTIVE",
                "createTime": "2024-01-01T00:00:00.000Z"}

    def _list_log_entries(self, call: Call) -> Any:
        body = dict(call.json or {})
        owners = [str(r) for r in body.get("resourceNames", [])]
        with self.state.lock:
            entries = [e for e in self.state.log_entries
                       if not owners or any(str(e.get("logName", "")).startswith(o + "/") for o in owners)]
        size = int(body.get("pageSize") or 50)
        return {"entries": entries[:size]} if entries else {}


def stable_number(text: str, digits: int = 12) -> str:
    """A number derived from `text`, the same in every process (unlike hash())."""
    return str(int(hashlib.sha256(text.encode()).hexdigest(), 16) % 10**digits).zfill(digits)


def _segment_after(parts: list[str], literal: str) -> str:
    for index, part in enumerate(parts[:-1]):
        if part == literal:
            return parts[index + 1]
    return ""


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError):
        return None


def _merge(stored: dict[str, Any], patch: dict[str, Any]) -> None:
    """A PATCH without a mask: JSON merge, a null removing a field (Cloud Storage's patch semantics)."""
    for key, value in patch.items():
        if value is None:
            stored.pop(key, None)
        elif isinstance(value, dict) and isinstance(stored.get(key), dict):
            _merge(stored[key], value)
        else:
            stored[key] = value


def _copy_path(source: dict[str, Any], target: dict[str, Any], path: list[str]) -> None:
    """One update-mask path from the patch to the resource; a path absent from the patch clears the field.
    Masks name fields in either spelling (`software_config` or `softwareConfig`)."""
    head, rest = path[0], path[1:]
    if head not in source and head not in target:
        head = re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), head)
    if not rest:
        if head in source:
            target[head] = source[head]
        else:
            target.pop(head, None)
        return
    inner = source.get(head)
    _copy_path(inner if isinstance(inner, dict) else {}, target.setdefault(head, {}), rest)


def parse_json_body(body: bytes) -> Any:
    """A request's JSON body (none is an empty object); what is not JSON is Google's 400."""
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except ValueError as error:
        raise ApiError(400, f"Invalid JSON payload received. {error}.") from None
