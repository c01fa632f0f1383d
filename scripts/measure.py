#!/usr/bin/env python3
"""Runs a command RUNS times with standard output to /dev/null and prints the median wall time
in seconds (to the millisecond) and the peak resident size in KB of that run (from wait4's
rusage, as GNU time reports it). Used by scripts/bench.sh.

    scripts/measure.py RUNS COMMAND [ARGS...]
"""
import os
import subprocess
import sys
import time


def run_once(cmd):
    with open(os.devnull, "wb") as null:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=null, stderr=null)
        _, _, usage = os.wait4(proc.pid, 0)
        return time.perf_counter() - start, usage.ru_maxrss


def main():
    runs = int(sys.argv[1])
    cmd = sys.argv[2:]
    results = sorted(run_once(cmd) for _ in range(runs))
    secs, rss = results[(runs - 1) // 2]
    print(f"{secs:.3f} {rss}")


if __name__ == "__main__":
    main()
