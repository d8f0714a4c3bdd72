"""Cloud Storage's JSON API beyond the generic methods: buckets with their output fields, objects with their bytes
and checksums (gcloud checks crc32c and md5 after every transfer), and the three upload protocols gcloud uses:
media, multipart (apitools' simple upload with metadata) and resumable sessions."""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import re
import time
import uuid
from typing import Any
from urllib.parse import quote

from tests.google_double.service import ApiError, Call, Reply, Request, Service, parse_json_body
from tests.google_double.state import Upload, now

_MULTI_REGIONS = ("US", "EU", "ASIA")
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]")


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1  # Castagnoli, reflected
        table.append(crc)
    return table


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def checksums(data: bytes) -> dict[str, str]:
    """Object checksums as Cloud Storage publishes them: base64 of the big-endian bytes."""
    return {"crc32c": base64.b64encode(crc32c(data).to_bytes(4, "big")).decode(),
            "md5Hash": base64.b64encode(hashlib.md5(data).digest()).decode()}


def parse_multipart(content_type: str, body: bytes) -> list[tuple[dict[str, str], bytes]]:
    """multipart/related parts (headers, bytes). apitools writes them with bare \\n line ends, other clients with
    \\r\\n: both are read."""
    found = re.search(r"""boundary=(?:"([^"]+)"|'([^']+)'|([^;\s]+))""", content_type)
    if found is None:
        raise ApiError(400, "multipart upload without a boundary")
    boundary = next(group for group in found.groups() if group)  # apitools quotes it with single quotes
    parts: list[tuple[dict[str, str], bytes]] = []
    for chunk in body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        end = b"\r\n" if chunk.startswith(b"\r\n") else b"\n"  # the writer's line end, used throughout
        head, _, content = chunk.removeprefix(end).partition(end + end)
        headers = {}
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        parts.append((headers, content.removesuffix(end)))
    return parts


def read_upload(call: Call) -> tuple[Any, bytes | None]:
    """The metadata (checked like any JSON body) and the bytes of an upload request."""
    kind, request = call.query("uploadType"), call.request
    if kind == "media":
        return {}, request.body
    if kind == "multipart":
        parts = parse_multipart(request.headers.get("content-type", ""), request.body)
        if len(parts) != 2:
            raise ApiError(400, f"a multipart upload has 2 parts (metadata, media), not {len(parts)}")
        (_, metadata_bytes), (media_headers, media) = parts
        metadata = parse_json_body(metadata_bytes)
        if isinstance(metadata, dict) and "content-type" in media_headers:
            metadata.setdefault("contentType", media_headers["content-type"])
        if isinstance(metadata, dict) and str(metadata.get("size", len(media))) != str(len(media)):
            raise ApiError(400, f"the metadata's size {metadata['size']} is not the media's {len(media)} bytes")
        return metadata, media
    if kind == "resumable":
        return parse_json_body(request.body), None
    raise ApiError(400, "Upload requests must include an uploadType URL parameter and a URL path beginning with "
                        "/upload/", reason="wrongUrlForUpload")


class Storage:
    def __init__(self, service: Service):
        self.service, self.state = service, service.state
        service.read_upload = read_upload
        service.custom.update({
            "storage.buckets.insert": self.insert_bucket,
            "storage.buckets.delete": self.delete_bucket,
            "storage.buckets.list": self.list_buckets,
            "storage.buckets.getStorageLayout": self.storage_layout,
            "storage.objects.insert": self.insert_object,
            "storage.objects.list": self.list_objects,
            "storage.objects.get": self.get_object,
        })
        service.preroutes.append(self.resume)

    @property
    def table(self) -> dict[str, dict[str, Any]]:
        return self.state.table("storage")

    def bucket(self, name: str) -> dict[str, Any]:
        found = self.table.get(f"b/{name}")
        if found is None:
            raise ApiError(404, "The specified bucket does not exist.")
        return found

    # -- buckets ----------------------------------------------------------------------------------------------------
    def insert_bucket(self, call: Call) -> Any:
        if not call.query("project"):
            raise ApiError(400, "Required parameter: project", reason="required")
        return self.make_bucket(dict(call.json or {}), call.request.base_url)

    def make_bucket(self, bucket: dict[str, Any], base_url: str) -> dict[str, Any]:
        name = str(bucket.get("name", ""))
        if not _BUCKET_NAME.fullmatch(name):
            raise ApiError(400, f"Invalid bucket name: '{name}'")
        with self.state.lock:
            if f"b/{name}" in self.table:
                raise ApiError(409, "Your previous request to create the named bucket succeeded and you already "
                                    "own it.", reason="conflict")
            location = str(bucket.get("location") or "US").upper()
            iam = dict(bucket.get("iamConfiguration") or {})
            uniform = bool((iam.get("uniformBucketLevelAccess") or {}).get("enabled"))
            stamp = now()
            made = {**bucket, "kind": "storage#bucket", "id": name, "name": name,
                    "selfLink": f"{base_url}/storage/v1/b/{name}", "projectNumber": self.service.project_number,
                    "metageneration": "1", "location": location,
                    "locationType": "multi-region" if location in _MULTI_REGIONS else "region",
                    "storageClass": bucket.get("storageClass") or "STANDARD", "timeCreated": stamp,
                    "updated": stamp, "etag": "CAE=",
                    "iamConfiguration": {**iam, "uniformBucketLevelAccess": {"enabled": uniform},
                                         "bucketPolicyOnly": {"enabled": uniform}}}
            self.table[f"b/{name}"] = made
            return made

    def delete_bucket(self, call: Call) -> Any:
        with self.state.lock:
            self.bucket(call.values["bucket"])
            if any(k.startswith(f"{call.key}/o/") for k in self.table):
                raise ApiError(409, "The bucket you tried to delete is not empty.", reason="conflict")
        return self.service.standard(call)

    def storage_layout(self, call: Call) -> Any:
        """gcloud storage asks before a recursive delete whether the bucket has folders (it never has here)."""
        with self.state.lock:
            bucket = self.bucket(call.values["bucket"])
        return {"bucket": bucket["name"], "location": bucket["location"], "locationType": bucket["locationType"],
                "hierarchicalNamespace": {"enabled": False}}

    def list_buckets(self, call: Call) -> Any:
        if not call.query("project"):
            raise ApiError(400, "Required parameter: project", reason="required")
        prefix = call.query("prefix")
        with self.state.lock:
            items = [b for k, b in sorted(self.table.items())
                     if k.count("/") == 1 and str(b["name"]).startswith(prefix)]
        return {"kind": "storage#buckets", **({"items": items} if items else {})}

    # -- objects ----------------------------------------------------------------------------------------------------
    def put_object(self, request: Request, bucket: str, name: str, data: bytes, metadata: dict[str, Any],
                   content_type: str, preconditions: dict[str, list[str]]) -> dict[str, Any]:
        key = f"b/{bucket}/o/{name}"
        with self.state.lock:
            stored_bucket = self.bucket(bucket)
            previous = self.table.get(key)
            if "ifGenerationMatch" in preconditions:
                actual = int(previous["generation"]) if previous else 0
                if int(preconditions["ifGenerationMatch"][0]) != actual:
                    raise ApiError(412, "At least one of the pre-conditions you specified did not hold.")
            generation = str(max(time.time_ns() // 1000, int(previous["generation"]) + 1 if previous else 0))
            quoted, stamp = quote(name, safe=""), now()
            made = {**metadata, "kind": "storage#object", "bucket": bucket, "name": name,
                    "id": f"{bucket}/{name}/{generation}", "generation": generation, "metageneration": "1",
                    "selfLink": f"{request.base_url}/storage/v1/b/{bucket}/o/{quoted}",
                    "mediaLink": f"{request.base_url}/download/storage/v1/b/{bucket}/o/{quoted}"
                                 f"?generation={generation}&alt=media",
                    "contentType": metadata.get("contentType") or content_type or "application/octet-stream",
                    "storageClass": stored_bucket.get("storageClass", "STANDARD"), "size": str(len(data)),
                    "etag": base64.b64encode(generation.encode()).decode(), "timeCreated": stamp, "updated": stamp,
                    "timeStorageClassUpdated": stamp, **checksums(data)}
            self.table[key] = made
            self.state.media[key] = bytes(data)
            return made

    def insert_object(self, call: Call) -> Any:
        metadata = dict(call.json or {})
        name = call.query("name") or str(metadata.get("name") or "")
        if not name:
            raise ApiError(400, "Required parameter: name", reason="required")
        bucket = call.values["bucket"]
        if call.method.media == "upload" and call.query("uploadType") == "resumable":
            with self.state.lock:
                self.bucket(bucket)
                upload_id = uuid.uuid4().hex
                content_type = call.request.headers.get("x-upload-content-type", "")
                preconditions = {k: v for k, v in call.request.query.items() if k.startswith("if")}
                self.state.uploads[upload_id] = Upload(f"b/{bucket}/o/{name}", metadata, content_type,
                                                       preconditions)
            location = (f"{call.request.base_url}/upload/storage/v1/b/{bucket}/o?uploadType=resumable"
                        f"&name={quote(name, safe='')}&upload_id={upload_id}")
            return Reply(200, b"", {"Location": location, "X-GUploader-UploadID": upload_id})
        content_type = call.request.headers.get("content-type", "") if call.query("uploadType") == "media" else ""
        return self.put_object(call.request, bucket, name, call.media or b"", metadata, content_type,
                               call.request.query)

    def resume(self, request: Request) -> Reply | None:
        """The chunks of a resumable session (PUT to the session URL): 308 with the bytes held so far until the
        last chunk, then the object."""
        upload_id = request.query.get("upload_id", [""])[0]
        if not upload_id or request.http_method not in ("PUT", "POST"):
            return None
        with self.state.lock:
            upload = self.state.uploads.get(upload_id)
            if upload is None:
                raise ApiError(404, "No such upload session.")
            ranged = re.fullmatch(r"bytes (\*|(\d+)-(\d+))/(\*|\d+)", request.headers.get("content-range", ""))
            total: int | None = len(upload.received) + len(request.body)
            if ranged is not None:
                if ranged.group(2) is not None:
                    del upload.received[int(ranged.group(2)):]
                total = None if ranged.group(4) == "*" else int(ranged.group(4))
            upload.received.extend(request.body)
            if total is None or len(upload.received) < total:
                held = {"Range": f"bytes=0-{len(upload.received) - 1}"} if upload.received else {}
                return Reply(308, b"", held)
            del self.state.uploads[upload_id]
        bucket, _, name = upload.key.removeprefix("b/").partition("/o/")
        made = self.put_object(request, bucket, name, bytes(upload.received), upload.metadata, upload.content_type,
                               upload.preconditions)
        checker = self.service.checker(self.service.surface.document_of("storage"))
        return self.service._json(200, checker.project(made, "Object"))

    def list_objects(self, call: Call) -> Any:
        bucket = call.values["bucket"]
        prefix, delimiter, glob = call.query("prefix"), call.query("delimiter"), call.query("matchGlob")
        trailing = call.query("includeTrailingDelimiter") == "true"
        items: list[dict[str, Any]] = []
        prefixes: set[str] = set()
        with self.state.lock:
            self.bucket(bucket)
            inside = f"b/{bucket}/o/"
            for key in sorted(k for k in self.table if k.startswith(inside)):
                name = key.removeprefix(inside)
                if not name.startswith(prefix) or (glob and not fnmatch.fnmatchcase(name, glob)):
                    continue
                rest = name.removeprefix(prefix)
                if delimiter and delimiter in rest:
                    prefixes.add(prefix + rest.split(delimiter, 1)[0] + delimiter)
                    continue
                items.append(self.table[key])
            if trailing:
                items.extend(self.table[inside + p] for p in sorted(prefixes) if inside + p in self.table)
        listed: dict[str, Any] = {"kind": "storage#objects"}
        if items:
            listed["items"] = items
        if prefixes:
            listed["prefixes"] = sorted(prefixes)
        return listed

    def get_object(self, call: Call) -> Any:
        bucket, name = call.values["bucket"], call.values["object"]
        key = f"b/{bucket}/o/{name}"
        with self.state.lock:
            self.bucket(bucket)
            stored = self.table.get(key)
            if stored is None or call.query("generation", stored["generation"]) != stored["generation"]:
                raise ApiError(404, f"No such object: {bucket}/{name}")
            if call.method.media != "download" and call.query("alt") != "media":
                return stored
            data = self.state.media[key]
        headers = {"Content-Type": str(stored["contentType"]),
                   "x-goog-hash": f"crc32c={stored['crc32c']},md5={stored['md5Hash']}",
                   "x-goog-generation": str(stored["generation"]), "x-goog-metageneration": "1",
                   "x-goog-stored-content-length": str(len(data)), "x-goog-stored-content-encoding": "identity",
                   "Accept-Ranges": "bytes"}
        ranged = re.fullmatch(r"bytes=(\d+)-(\d*)", call.request.headers.get("range", ""))
        if ranged is None:
            return Reply(200, data, headers)
        start = int(ranged.group(1))
        end = min(int(ranged.group(2) or len(data) - 1), len(data) - 1)
        return Reply(206, data[start:end + 1], {**headers, "Content-Range": f"bytes {start}-{end}/{len(data)}"})
