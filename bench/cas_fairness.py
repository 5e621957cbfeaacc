"""`make bench`: fairness of the S3 compare-and-swap under contention.

Six writer processes update one record of one entry on S3 (moto on loopback) for a fixed
time. Every put must succeed (none may give up) and every writer must progress: the
table gives each writer's successes, its lost races and the spread (most / fewest).
Results go to bench/RESULTS-cas.md. `MYDB_BENCH_CAS_SECONDS` sets the duration (20 s).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

import boto3
from s3_bench import BUCKET, HERE, start_moto
from timing import write_results

WRITERS = 6
_WRITER = r"""
import json, os, sys, time
from dbengine.dbengine import DbEngine
from dbengine.errors import DbEngineError
root, worker, seconds, go = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
engine = DbEngine(root)
engine.tenants()
storage = engine.storage
swaps = {"tried": 0}
real_write = storage.write_head
def write_head(tenant, data, expected=...):
    swaps["tried"] += 1
    return real_write(tenant, data, expected=expected)
storage.write_head = write_head
while not os.path.exists(go):
    time.sleep(0.005)
end = time.monotonic() + seconds
ok = failed = 0
while time.monotonic() < end:
    try:
        engine.put("t", f"w{worker}", "shared", "k", {"w": worker, "i": ok})
        ok += 1
    except DbEngineError as exc:
        failed += 1
        print(f"w{worker}: {exc}", file=sys.stderr)
print(json.dumps({"ok": ok, "failed": failed, "swaps": swaps["tried"]}))
"""


def run(seconds: float) -> list[dict]:
    """Start moto and the writers; each writer's counts."""
    proc, endpoint = start_moto()
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", MYDB_S3_ENDPOINT=endpoint)
    try:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_bucket(Bucket=BUCKET)
        root = f"s3://{BUCKET}/cas-{uuid.uuid4().hex[:8]}"
        os.environ.update(env)
        from dbengine.dbengine import DbEngine

        engine = DbEngine(root)
        engine.init("t")
        engine.put("t", "setup", "shared", "k", 0)
        with tempfile.TemporaryDirectory() as folder:
            go = os.path.join(folder, "go")
            writers = [subprocess.Popen([sys.executable, "-c", _WRITER, root, str(w), str(seconds), go],
                                        stdout=subprocess.PIPE, text=True, env=env) for w in range(WRITERS)]
            time.sleep(3)  # every writer imported and connected before the start
            open(go, "w").close()
            results = [json.loads(w.communicate(timeout=seconds + 120)[0].strip().splitlines()[-1])
                       for w in writers]
        history = engine.log("t", "shared", max_items=100_000)
        total = sum(r["ok"] for r in results)
        if len(history) != total + 1:
            raise SystemExit(f"{len(history)} versions for {total} acknowledged puts + 1")
        return results
    finally:
        proc.terminate()


def main() -> None:
    seconds = float(os.environ.get("MYDB_BENCH_CAS_SECONDS", "20"))
    results = run(seconds)
    oks = [r["ok"] for r in results]
    lines = [
        "# Benchmark: compare-and-swap fairness on S3 (moto on loopback)",
        "",
        f"- {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, `python bench/cas_fairness.py`, "
        f"{WRITERS} processes putting one record of one entry for {seconds:.0f} s.",
        "- The history holds exactly one version per acknowledged put (checked).",
        "",
        "| writer | puts acknowledged | puts given up | head writes tried |",
        "|---|---|---|---|",
        *(f"| {i} | {r['ok']} | {r['failed']} | {r['swaps']} |" for i, r in enumerate(results)),
        "",
        f"Spread: most {max(oks)}, fewest {min(oks)} "
        f"({max(oks) / max(min(oks), 1):.1f}x); total {sum(oks)}.",
        "",
    ]
    path = os.path.join(HERE, "RESULTS-cas.md")
    write_results(path, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
