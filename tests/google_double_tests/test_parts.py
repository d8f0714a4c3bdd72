"""The pieces of the double that gcloud checks byte for byte."""

from __future__ import annotations

import pytest

from tests.google_double.storage import checksums, crc32c, parse_multipart


def test_crc32c_is_castagnoli() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the check value of CRC-32C
    assert checksums(b"") == {"crc32c": "AAAAAA==", "md5Hash": "1B2M2Y8AsgTpgAmY7PhCfg=="}


@pytest.mark.parametrize("end", [b"\r\n", b"\n"])  # apitools writes bare \n
def test_multipart_keeps_the_media_bytes_exactly(end: bytes) -> None:
    media = b"line\n\r\nend\n"
    body = (b"--=b=" + end + b"Content-Type: application/json" + end + end + b'{"name": "x"}' + end + b"--=b=" + end
            + b"Content-Type: text/plain" + end + end + media + end + b"--=b=--" + end)
    (meta_headers, metadata), (media_headers, found) = parse_multipart(
        "multipart/related; boundary='=b='", body)
    assert (metadata, found, media_headers["content-type"]) == (b'{"name": "x"}', media, "text/plain")
    assert meta_headers == {"content-type": "application/json"}
