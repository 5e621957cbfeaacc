"""`make bench` (second part): the engine on local disk against the engine on S3.

S3 is moto in server mode on loopback (started here), so the times show the engine's
and the client's overhead plus moto's, not a network's; the request counts are what a
real S3 would receive. Each size builds one snapshot entry with N versions and one record
entry with N records locally, uploads the files to the bucket as `aws s3 sync` would
(and the history indexes as S3 index segments), then times the same operations on both
backends. Results go to bench/RESULTS-s3.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from dbengine.dbengine import DbEngine
from timing import format_seconds, measure
from timing import write_results as write_results_file

HERE = os.path.dirname(os.path.abspath(__file__))
BUCKET = "mydb-bench"
TENANT, SNAP, RECS = "bench", "settings", "people"


def start_moto() -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("moto server did not start") from None
            time.sleep(0.05)


def value(i: int) -> dict:
    return {"title": f"report {i}", "counter": i, "tags": ["a", "b"], "settings": {"page": i % 17}}


def build_local(root: str, size: int) -> None:
    engine = DbEngine(root, durable=False)
    engine.init(TENANT)
    for i in range(size):
        engine.save(TENANT, "bench", SNAP, value(i))
    engine.put_many(TENANT, "bench", RECS, {f"user{i:06d}": {"i": i, "name": f"n{i}"} for i in range(size)})


def upload(root: str, engine: DbEngine) -> None:
    """Copy a local database into the S3 prefix (like `aws s3 sync`), plus index segments."""
    storage = engine.storage
    files = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            rel = os.path.relpath(os.path.join(folder, name), root)
            if "/index/" not in rel and not rel.endswith(".lock"):
                files.append(rel)

    def put(rel: str) -> None:
        with open(os.path.join(root, rel), "rb") as handle:
            storage.client.put_object(Bucket=storage.bucket, Key=f"{storage.prefix}/{rel}", Body=handle.read())

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, files))
    local = DbEngine(root, durable=False)
    for entry in (SNAP, RECS):
        with open(local.storage.index_path(TENANT, entry), "rb") as handle:
            storage.write_index(TENANT, entry, handle.read())


def timed(label: str, run: Callable[[DbEngine], object], engines: Callable[[], DbEngine], reps: int,
          budget: float) -> tuple[float, Counter]:
    """Median seconds of `run` and the median request counts of one call (S3 only)."""
    current: list[DbEngine] = []
    counts: list[Counter] = []

    def setup(_i: int) -> None:
        current[:] = [engines()]
        if hasattr(current[0].storage, "requests"):
            current[0].storage.requests.clear()

    def once(_i: int) -> None:
        run(current[0])
        requests = getattr(current[0].storage, "requests", None)
        if requests is not None:
            counts.append(Counter(requests))

    sample = measure(once, reps=reps, budget=budget, setup=setup)
    median_counts = Counter()
    if counts:
        for kind in set().union(*counts):
            median_counts[kind] = int(statistics.median(c.get(kind, 0) for c in counts))
    return sample.median, median_counts


def bench_size(size: int, endpoint: str, reps: int, budget: float, work: str) -> list[tuple]:
    local_root = os.path.join(work, f"local-{size}")
    s3_root = f"s3://{BUCKET}/size-{size}-{os.urandom(3).hex()}"
    started = time.perf_counter()
    build_local(local_root, size)
    warm = {"local": DbEngine(local_root), "s3": DbEngine(s3_root, s3_endpoint=endpoint)}
    upload(local_root, warm["s3"])
    print(f"  built and uploaded {size} versions/records in {time.perf_counter() - started:.1f} s", flush=True)
    cold = {"local": lambda: DbEngine(local_root), "s3": lambda: DbEngine(s3_root, s3_endpoint=endpoint)}
    for engine in warm.values():  # warm caches: head, index, buckets
        engine.log(TENANT, SNAP, max_items=None), engine.get(TENANT, RECS, key="user000001")
    counter = iter(range(10**9))
    operations: list[tuple[str, Callable[[DbEngine], object], bool]] = [
        ("save (new version), warm", lambda e: e.save(TENANT, "bench", SNAP, value(size + next(counter))), True),
        ("load head, cold", lambda e: e.load(TENANT, SNAP), False),
        ("load head, warm", lambda e: e.load(TENANT, SNAP), True),
        ("log of all versions, cold", lambda e: e.log(TENANT, SNAP, max_items=None), False),
        ("log of 20 newest, cold", lambda e: e.log(TENANT, SNAP, max_items=20), False),
        ("log of all versions, warm", lambda e: e.log(TENANT, SNAP, max_items=None), True),
        ("put (update 1 record), warm", lambda e: e.put(TENANT, "bench", RECS, "user000007", next(counter)), True),
        ("get one record, cold", lambda e: e.get(TENANT, RECS, key="user000003"), False),
        ("get one record, warm", lambda e: e.get(TENANT, RECS, key="user000003"), True),
        ("tenants()", lambda e: e.tenants(), True),
    ]
    rows = []
    for label, run, is_warm in operations:
        results = {}
        for backend in ("local", "s3"):
            make = (lambda b=backend: warm[b]) if is_warm else cold[backend]
            results[backend] = timed(label, run, make, reps, budget)
        rows.append((size, label, results["local"][0], results["s3"][0], results["s3"][1]))
        print(f"  {size:>6} {label:<30} local {format_seconds(results['local'][0]):>10}  "
              f"s3 {format_seconds(results['s3'][0]):>10}  {describe(results['s3'][1])}", flush=True)
    return rows


def describe(counts: Counter) -> str:
    names = {"GetObject": "GET", "PutObject": "PUT", "HeadObject": "HEAD", "ListObjectsV2": "LIST",
             "DeleteObjects": "DELETE"}
    total = sum(counts.values())
    parts = ", ".join(f"{n} {names.get(k, k)}" for k, n in sorted(counts.items()) if n)
    return f"{total} ({parts})" if parts else "0"


def write_results(rows: list[tuple], args: argparse.Namespace, seconds: float) -> str:
    lines = [
        "# Benchmark: local disk against S3 (moto on loopback)",
        "",
        f"- Date: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %z}",
        f"- Machine: {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}",
        f"- Command: `python bench/s3_bench.py --sizes {' '.join(map(str, args.sizes))}`; total {seconds:.0f} s",
        f"- Up to {args.reps} runs per operation (medians). Local: `durable=True` (fsync). S3: moto "
        "server in another process on 127.0.0.1, so times are client + moto overhead with no network "
        "latency; on AWS add ~5-30 ms per request. *Requests* are the S3 requests of one call "
        "(median), counted with a botocore event hook: that is what a real S3 would receive.",
        "- *cold*: a new `DbEngine` (empty caches); *warm*: the same engine again.",
        "",
        "| size | operation | local | S3 (moto) | S3 requests per call |",
        "|---:|---|---:|---:|---|",
    ]
    for size, label, local, remote, counts in rows:
        lines.append(f"| {size:,} | {label} | {format_seconds(local)} | {format_seconds(remote)} | {describe(counts)} |")
    lines.append("")
    path = os.path.join(HERE, "RESULTS-s3.md")
    write_results_file(path, "\n".join(lines))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--budget", type=float, default=1.5, help="seconds of timed work per operation")
    args = parser.parse_args()
    try:
        import boto3
    except ImportError:
        raise SystemExit("bench/s3_bench.py needs the test extras: pip install -e '.[test]'") from None
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    started = time.perf_counter()
    proc, endpoint = start_moto()
    work = tempfile.mkdtemp(prefix="_work-s3-", dir=HERE)
    try:
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        rows = []
        for size in args.sizes:
            rows.extend(bench_size(size, endpoint, args.reps, args.budget, work))
        print("wrote", write_results(rows, args, time.perf_counter() - started))
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
