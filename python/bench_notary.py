#!/usr/bin/env python3
"""portieris.notary.verify calls per second from Python, over the committed `onesigner` vector
(tag v1, pinned signer alice): the same work as `cargo run --release -p portieris-python
--example notary_bench`. Figures: docs/benchmarks.md, "Python binding".

    python3 python/bench_notary.py [SECONDS] [THREADS]
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
import time
from pathlib import Path

import portieris

CASE = Path(__file__).resolve().parents[1] / "core/tests/fixtures/notary/onesigner"


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    expected = json.loads((CASE / "expected.json").read_text())
    generated = dt.datetime.fromisoformat(expected["generated_at"].replace("Z", "+00:00"))
    now = int(generated.timestamp()) + 3600
    metadata = {
        role: (CASE / info["file"]).read_bytes() if info["status"] == 200 else None
        for role, info in expected["roles"].items()
    }
    signers = [("alice", (CASE.parent / "keys/alice.pub.pem").read_text())]
    gun = expected["gun"]
    print("digest", portieris.notary.verify(gun, "v1", metadata, now=now, signers=signers).digest)

    counts = [0] * threads

    def work(i: int) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            portieris.notary.verify(gun, "v1", metadata, now=now, signers=signers)
            counts[i] += 1

    start = time.perf_counter()
    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    calls = sum(counts)
    print(
        f"python notary.verify ({threads} thread{'s' if threads > 1 else ''}): {calls} calls in "
        f"{elapsed:.2f}s = {calls / elapsed:.1f} calls/s ({elapsed * 1e6 / calls:.1f} us/call)"
    )


if __name__ == "__main__":
    main()
