"""`s3://` roots (issue 11, section 5): the scheme in any case, one database per prefix
however it is spelled, no key under `../`, a bucket root holding other databases, and
errors that blame the right setting (refused credentials, an endpoint that is set).
"""

from __future__ import annotations

import socket
import uuid

import pytest
from botocore.awsrequest import AWSResponse
from dbengine import errors
from dbengine.dbengine import DbEngine
from dbengine.s3storage import S3Storage, parse_s3_url

BUCKET = "mydb-tests"
T = "tenant_1"


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_kwargs):
        yield self.body


def refuse(status: int, code: str):
    """A `before-send` handler answering every request with an S3 error."""

    def handler(request, **_kwargs):
        body = f"<Error><Code>{code}</Code><Message>injected by the test</Message></Error>".encode()
        return AWSResponse(request.url, status, {"Content-Type": "application/xml"}, _Raw(body))

    return handler


def test_the_scheme_is_case_insensitive(db_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    upper = "S3://" + db_root[len("s3://"):]
    engine = DbEngine(upper)
    assert isinstance(engine.storage, S3Storage) and engine.storage.root == db_root
    engine.init(T)
    engine.save(T, "u", "e", {"v": 1})
    assert DbEngine(db_root).load(T, "e") == {"v": 1}
    assert list(tmp_path.iterdir()) == []  # no local folder ./S3:/...


@pytest.mark.parametrize("url, expected", [
    ("s3://b/x", ("b", "x")),
    ("s3://b//x", ("b", "x")),
    ("s3://b/x/", ("b", "x")),
    ("s3://b/a//b", ("b", "a/b")),
    ("s3://b//a///b//", ("b", "a/b")),
    ("S3://b/a/b", ("b", "a/b")),
    ("s3://b", ("b", "")),
    ("s3://b/", ("b", "")),
    ("s3://b/..x/y.", ("b", "..x/y.")),  # dots inside a name are names
])
def test_prefixes_are_normalised(url, expected):
    assert parse_s3_url(url) == expected


@pytest.mark.parametrize("url", ["s3://b/../x", "s3://b/a/./x", "s3://b/a/..", "s3://b/.", "s3://b//../x"])
def test_dot_segments_are_refused(url):
    with pytest.raises(errors.InvalidNameError, match="segment"):
        parse_s3_url(url)
    with pytest.raises(errors.InvalidNameError):
        DbEngine(url)


def test_two_spellings_of_a_prefix_are_one_database(s3_endpoint):
    name = uuid.uuid4().hex[:12]
    one = DbEngine(f"s3://{BUCKET}/{name}/a//b/")
    one.init(T)
    one.save(T, "u", "e", {"v": 1})
    other = DbEngine(f"s3://{BUCKET}//{name}/a/b")
    assert other.load(T, "e") == {"v": 1}
    assert one.storage.root == other.storage.root == f"s3://{BUCKET}/{name}/a/b"


def test_a_bucket_root_holding_other_prefixes_lists_only_its_tenants(s3, s3_endpoint):
    bucket = f"mydb-root-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    root = DbEngine(f"s3://{bucket}")
    root.init("acme")
    root.save("acme", "u", "e", {"blob": b"x" * 10})  # refs/ too
    nested = DbEngine(f"s3://{bucket}/prod/db")  # another database below the root
    nested.init("globex")
    nested.save("globex", "u", "e", 1)
    s3.put_object(Bucket=bucket, Key="%2e%2e/x/t/head", Body=b"{}")  # a database at a prefix like the issue's
    s3.put_object(Bucket=bucket, Key="notes/readme.txt", Body=b"not a tenant")
    cold = DbEngine(f"s3://{bucket}")
    assert cold.tenants() == ["acme"]
    assert cold.entries("acme") == ["e"]
    assert cold.verify().ok
    assert root.tenants() == ["acme"]
    requests = root.storage.requests
    requests.clear()
    assert root.tenants() == ["acme"]
    # 1 LIST; a tenant's head is looked for once per engine, other folders at every listing
    assert dict(requests) == {"ListObjectsV2": 1, "HeadObject": 3}


@pytest.mark.parametrize("code", ["InvalidAccessKeyId", "SignatureDoesNotMatch"])
def test_refused_credentials_are_called_so(db_root, code):
    engine = DbEngine(db_root)
    engine.storage.client.meta.events.register("before-send.s3", refuse(403, code))
    with pytest.raises(errors.StorageError) as raised:
        engine.tenants()
    message = str(raised.value)
    assert f"the AWS credentials were refused ({code}) for bucket 'mydb-tests'" in message, message
    assert "denied" not in message


def test_a_policy_refusal_is_still_access_denied(db_root):
    engine = DbEngine(db_root)
    engine.storage.client.meta.events.register("before-send.s3", refuse(403, "AccessDenied"))
    with pytest.raises(errors.StorageError, match=r"access to bucket 'mydb-tests' denied \(AccessDenied\)"):
        engine.tenants()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_endpoint_that_is_set_is_named_not_suggested(db_root, monkeypatch, fast_retries):
    dead = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("MYDB_S3_ENDPOINT", dead)
    with pytest.raises(errors.StorageError) as raised:
        DbEngine(db_root).tenants()
    message = str(raised.value)
    assert "cannot reach the S3 endpoint of bucket 'mydb-tests'" in message
    assert f"MYDB_S3_ENDPOINT={dead}" in message and "set MYDB_S3_ENDPOINT" not in message, message
    assert "gave up after 8 attempts" in message
    with pytest.raises(errors.StorageError, match=f"s3_endpoint={dead}"):
        DbEngine(db_root, s3_endpoint=dead).tenants()
