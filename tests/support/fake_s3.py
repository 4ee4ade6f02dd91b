"""A stand-in for an S3-compatible object store (what MinIO serves), on loopback: the part of the S3 REST API an
Elasticsearch ``s3`` snapshot repository uses, and the client side the fake Elasticsearch uses to reach it.

Server: buckets made by the test (``buckets``); objects put, got, headed, deleted and listed (ListObjectsV2,
XML) by path-style (``/bucket/key``) or virtual-hosted (``bucket.host/key``) requests; every request signed
with AWS Signature Version 4 by a key of ``keys`` (access key -> secret key), checked as S3 checks it.
Errors are S3's XML documents: ``NoSuchBucket``, ``NoSuchKey``, ``InvalidAccessKeyId``,
``SignatureDoesNotMatch``, ``AccessDenied`` (an unsigned request).

The signer (``signed_headers``) follows the published algorithm (docs.aws.amazon.com, "Signature Version 4
signing process"); the checker recomputes the signature with the same code, so it proves the client sends the
right keys to the right bucket, not that the signing code is right.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, urlsplit
from xml.sax.saxutils import escape

from tests.support.loopback import JsonHandler, LoopbackServer, call

REGION = "us-east-1"  # what Elasticsearch's S3 client signs with when no region is set


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signature(secret: str, method: str, path: str, query: str, headers: dict[str, str], signed: list[str],
              payload_hash: str, stamp: str) -> str:
    """The SigV4 signature of a request (``headers`` lower-case, ``signed`` their sorted names)."""
    canonical_query = "&".join(sorted(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                                      for k, vs in parse_qs(query, keep_blank_values=True).items() for v in vs))
    canonical = "\n".join([method, quote(path, safe="/-_.~"), canonical_query,
                           "".join(f"{h}:{headers[h].strip()}\n" for h in signed), ";".join(signed), payload_hash])
    scope = f"{stamp[:8]}/{REGION}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), stamp[:8]), REGION), "s3"), "aws4_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def signed_headers(access: str, secret: str, method: str, host: str, path: str, query: str, body: bytes) -> dict[str, str]:
    """The headers of a SigV4-signed request."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    payload = hashlib.sha256(body).hexdigest()
    headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": stamp}
    signed = sorted(headers)
    sig = signature(secret, method, path, query, headers, signed, payload, stamp)
    return {**headers, "authorization": f"AWS4-HMAC-SHA256 Credential={access}/{stamp[:8]}/{REGION}/s3/aws4_request, "
                                         f"SignedHeaders={';'.join(signed)}, Signature={sig}"}


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass
class S3Client:
    """How the fake Elasticsearch reaches a bucket: ``backend`` is the loopback address the endpoint's name
    resolves to; ``path_style`` as ``s3.client.*.path_style_access``."""

    backend: str
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    path_style: bool = False

    def request(self, method: str, key: str = "", query: str = "", body: bytes = b"") -> bytes:
        host, path = (self.endpoint, f"/{self.bucket}/{key}") if self.path_style else \
            (f"{self.bucket}.{self.endpoint}", f"/{key}")
        headers = signed_headers(self.access_key, self.secret_key, method, host, path, query, body)
        status, answer = call(self.backend, method, f"http://{host}{quote(path)}" + (f"?{query}" if query else ""),
                              body=body if method == "PUT" else None, headers=headers)
        if status >= 300:
            text = answer.decode(errors="replace")
            code = text.split("<Code>")[1].split("</Code>")[0] if "<Code>" in text else str(status)
            message = text.split("<Message>")[1].split("</Message>")[0] if "<Message>" in text else text
            raise S3Error(status, code, message)
        return answer

    def put(self, key: str, body: bytes) -> None:
        self.request("PUT", key, body=body)

    def get(self, key: str) -> bytes:
        return self.request("GET", key)

    def delete(self, key: str) -> None:
        self.request("DELETE", key)

    def list(self, prefix: str) -> list[str]:
        answer = self.request("GET", "", f"list-type=2&prefix={quote(prefix, safe='')}").decode()
        return [part.split("</Key>")[0] for part in answer.split("<Key>")[1:]]


@dataclass
class FakeS3(LoopbackServer):
    keys: dict[str, str] = field(default_factory=dict)  # access key -> secret key
    buckets: dict[str, dict[str, bytes]] = field(default_factory=dict)  # bucket -> key -> object
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (access key, method, bucket/key)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def handle(self, method: str, host: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        parts = urlsplit(target)
        try:
            access = self._authenticate(method, parts.path, parts.query, headers, body)
            name = host.split(":")[0]
            if "." in name and name.split(".")[0] in self.buckets and not parts.path.startswith(f"/{name.split('.')[0]}/"):
                bucket, key = name.split(".")[0], parts.path[1:]  # virtual-hosted style
            else:
                bucket, _, key = parts.path[1:].partition("/")
            with self._lock:
                self.requests.append((access, method, f"{bucket}/{key}"))
                return self._object(method, bucket, key, parse_qs(parts.query), body)
        except S3Error as e:
            return e.status, (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{e.code}</Code>'
                              f"<Message>{escape(e.message)}</Message></Error>")

    def _authenticate(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> str:
        auth = headers.get("authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            raise S3Error(403, "AccessDenied", "Access Denied.")
        fields = dict(f.strip().split("=", 1) for f in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        access = fields["Credential"].split("/")[0]
        if access not in self.keys:
            raise S3Error(403, "InvalidAccessKeyId", "The Access Key Id you provided does not exist in our records.")
        signed = fields["SignedHeaders"].split(";")
        payload = headers.get("x-amz-content-sha256", "")
        if payload != hashlib.sha256(body).hexdigest() or not all(h in headers for h in signed):
            raise S3Error(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match")
        expected = signature(self.keys[access], method, path, query, headers, signed, payload, headers["x-amz-date"])
        if not hmac.compare_digest(expected, fields["Signature"]):
            raise S3Error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the "
                                                        "signature you provided. Check your key and signing method.")
        return access

    def _object(self, method: str, bucket: str, key: str, query: dict, body: bytes) -> tuple[int, str | bytes]:
        if bucket not in self.buckets:
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist")
        objects = self.buckets[bucket]
        if not key and method == "GET" and query.get("list-type") == ["2"]:
            prefix = query.get("prefix", [""])[0]
            keys = sorted(k for k in objects if k.startswith(prefix))
            contents = "".join(f"<Contents><Key>{escape(k)}</Key><Size>{len(objects[k])}</Size></Contents>" for k in keys)
            return 200, (f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult><Name>{bucket}</Name>'
                         f"<Prefix>{escape(prefix)}</Prefix><KeyCount>{len(keys)}</KeyCount>"
                         f"<IsTruncated>false</IsTruncated>{contents}</ListBucketResult>")
        if method == "PUT" and key:
            objects[key] = body
            return 200, ""
        if method in ("GET", "HEAD") and key:
            if key not in objects:
                raise S3Error(404, "NoSuchKey", "The specified key does not exist.")
            return 200, objects[key]
        if method == "DELETE" and key:
            objects.pop(key, None)
            return 204, ""
        raise S3Error(400, "NotImplemented", f"not implemented by the stand-in: {method} {bucket}/{key}")


class _Handler(JsonHandler):
    owner: FakeS3

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, answer = self.owner.handle(self.command, self.headers.get("Host", ""), self.path, headers, body)
        data = answer if isinstance(answer, bytes) else answer.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_DELETE = do_HEAD = do_POST = _serve


FakeS3.handler_class = _Handler
