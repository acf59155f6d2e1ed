#!/usr/bin/env python3
"""The disk's floor for durable audit appends: a group commit that does nothing but
`pwrite` + `fdatasync` on a pre-written file, with appends arriving evenly at RATE/s.

No sled, no hashing, no runtime: the latency here is the lower bound of any design that
syncs before it answers, on this disk, right now. Compare its p99 with the paced table of
`cargo bench -p warden-audit --bench append` run just before or after (docs/audit-format.md
section 9). Each append's latency runs from its arrival to the end of the first sync that
started after it arrived; each sync writes ~800 bytes per append it covers, in whole pages.

usage: disk_floor.py [RATE] [SECONDS] [DIR]   (defaults: 20000, 8, the current directory)
"""
import math
import os
import sys
import tempfile
import time

rate = float(sys.argv[1]) if len(sys.argv) > 1 else 20000.0
secs = float(sys.argv[2]) if len(sys.argv) > 2 else 8.0
where = sys.argv[3] if len(sys.argv) > 3 else "."
FILE_BYTES = 8 << 20
period = 1e9 / rate

fd, path = tempfile.mkstemp(prefix="disk-floor-", dir=where)
try:
    os.pwrite(fd, b"\0" * FILE_BYTES, 0)
    os.fsync(fd)
    start = time.perf_counter_ns() + 100_000_000
    end = start + int(secs * 1e9)
    while time.perf_counter_ns() < start:
        pass
    cut, off, latencies, syncs = start, 0, [], 0
    while True:
        now = time.perf_counter_ns()
        if now > end:
            break
        first = max(math.floor((cut - start) / period) + 1, 0)
        last = math.floor((now - start) / period)
        cut = now
        if last < first:
            continue
        n = last - first + 1
        size = max(4096, (n * 800 + 4095) // 4096 * 4096)
        if off + size > FILE_BYTES:
            off = 0
        os.pwrite(fd, b"x" * size, off)
        os.fdatasync(fd)
        off += size
        syncs += 1
        done = time.perf_counter_ns()
        latencies.extend(done - (start + i * period) for i in range(first, last + 1))
finally:
    os.close(fd)
    os.unlink(path)

latencies.sort()
pct = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] / 1e6
print(
    f"{len(latencies)} appends at {rate:.0f}/s in {syncs} syncs: "
    f"p50 {pct(0.5):.3f} ms  p99 {pct(0.99):.3f} ms  p99.9 {pct(0.999):.3f} ms  "
    f"max {latencies[-1] / 1e6:.3f} ms"
)
