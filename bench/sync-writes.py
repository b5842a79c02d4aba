#!/usr/bin/env python3
"""How this disk takes synchronous writes shaped like the WAL journal's: 4 KiB O_DIRECT|O_DSYNC writes
into a pre-filled file, from 1, 2 and 4 threads at once (each thread its own blocks). Prints writes per
second and the median latency for each. It answers whether overlapping journal writes could pay: if two
writers get nearly twice the writes at the same latency, a commit need not wait for the write in flight.

Usage: bench/sync-writes.py [DIR] [WRITES_PER_THREAD]   (a file is created in DIR, default bench/target; 400)
"""
import mmap
import os
import sys
import threading
import time

FILE_BYTES = 64 << 20
BLOCK = 4096


def run(fd, threads, writes):
    block = mmap.mmap(-1, BLOCK)  # page-aligned, as O_DIRECT needs
    block.write(b"x" * BLOCK)
    latencies = []
    lock = threading.Lock()

    def writer(t):
        mine = []
        for i in range(writes):
            offset = ((i * threads + t) * BLOCK) % (FILE_BYTES - BLOCK)
            t0 = time.perf_counter()
            os.pwrite(fd, block, offset)
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return writes * threads / elapsed, latencies[len(latencies) // 2] * 1e6


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "target")
    writes = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "sync-writes.tmp")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_DIRECT | os.O_DSYNC, 0o600)
    try:
        filler = mmap.mmap(-1, 1 << 20)
        filler.write(b"\0" * (1 << 20))
        for i in range(FILE_BYTES >> 20):  # pre-filled, so writes change data blocks only (as the journal's)
            os.pwrite(fd, filler, i << 20)
        print("| threads | writes/s | median latency (us) |")
        print("|---|---|---|")
        for threads in (1, 2, 4, 1, 2, 4):
            rate, median = run(fd, threads, writes)
            print(f"| {threads} | {rate:.0f} | {median:.0f} |")
    finally:
        os.close(fd)
        os.unlink(path)


if __name__ == "__main__":
    main()
