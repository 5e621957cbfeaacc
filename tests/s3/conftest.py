"""An S3 API server on loopback (moto in server mode) for the S3 backend's tests.

The server runs in its own process for the whole session. `db_root` is overridden here,
so the engine fixtures of tests/conftest.py (`make_engine`, `engine`, `ticking_engine`)
give engines on a fresh `s3://` prefix in every test under tests/s3/.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")

BUCKET = "mydb-tests"
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """URL of a moto S3 server started for this session, with the bucket BUCKET created.

    MYDB_S3_ENDPOINT and dummy AWS credentials are set for the session, so engines (and
    the subprocesses of the tests) opened on `s3://` roots reach it.
    """
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    saved = {name: os.environ.get(name) for name in (*S3_ENV, "MYDB_S3_ENDPOINT")}
    os.environ.update(S3_ENV, MYDB_S3_ENDPOINT=endpoint)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the moto S3 server did not start") from None
                time.sleep(0.05)
        s3_client(endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(10)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def s3_client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def s3(s3_endpoint):
    """A plain boto3 client of the test server (to look at or damage what the engine wrote)."""
    return s3_client(s3_endpoint)


@pytest.fixture
def db_root(s3_endpoint) -> str:
    """A fresh `s3://` root per test (replaces the local folder of tests/conftest.py)."""
    return f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}"


@pytest.fixture
def fast_retries(monkeypatch):
    """The S3 storage's retries without their real backoff (for tests of what is stored or
    said, not of when)."""
    from dbengine import s3requests

    monkeypatch.setattr(s3requests, "BACKOFF_BASE", 0.001)
    monkeypatch.setattr(s3requests, "BACKOFF_CAP", 0.005)
