"""Command line: `tlsdiag-dask [--scheduler URL | --workers N] [--tlsdiag PATH] --out DIR CAPTURE_OR_DIR...`."""

from __future__ import annotations

import argparse
import sys

from .engine import collect_captures, find_tlsdiag, run_archive, summarize


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="tlsdiag-dask",
        description="Run tlsdiag over packet captures on a Dask cluster; each capture's Parquet "
        "tables go into --out, and a summary is printed from them at the end.",
    )
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--scheduler", help="address of a running scheduler (tcp://HOST:8786)")
    where.add_argument(
        "--workers", type=int, default=2, help="workers of the local cluster started otherwise"
    )
    ap.add_argument("--tlsdiag", help="the tlsdiag binary on the workers (default: $TLSDIAG, PATH)")
    ap.add_argument("--out", required=True, help="output directory or fsspec URL the workers can write")
    ap.add_argument("inputs", nargs="+", help="capture files or directories")
    a = ap.parse_args(argv)

    from distributed import Client, LocalCluster

    captures = collect_captures(a.inputs)
    if not captures:
        print("tlsdiag-dask: no captures found", file=sys.stderr)
        return 2
    tlsdiag = find_tlsdiag(a.tlsdiag)
    if a.scheduler:
        client = Client(a.scheduler)
        cluster = None
    else:
        cluster = LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True)
        client = Client(cluster)
    try:
        def progress(n, total, path):
            print(f"\r[{n}/{total}] {path[-60:]:<60}", end="", file=sys.stderr, flush=True)

        result = run_archive(client, captures, tlsdiag, a.out, progress=progress)
        print(file=sys.stderr)
        by_code, servers = summarize(a.out)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    print(f"{len(result.done)} capture(s) analysed, {len(result.failed)} failed; tables in {a.out}")
    for path, err in result.failed:
        print(f"failed: {path}: {err}")
    print("\nfindings by code and severity:")
    for (code, severity), n in by_code.items():
        print(f"  {n:>7}  {severity:<8} {code}")
    if len(servers):
        print("\nservers with the most failed or refused TLS connections:")
        for server, n in servers.items():
            print(f"  {n:>7}  {server}")
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
