"""The archive run: captures to tasks (largest first), tasks to Parquet parts, parts to a summary."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Iterable, List, Optional, Tuple

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap")
COMPRESSED = ("", ".gz", ".zst")
TABLES = ("connections", "findings", "certificates", "http")


def is_capture(name: str) -> bool:
    return any(name.endswith(s + c) for s in CAPTURE_SUFFIXES for c in COMPRESSED)


def collect_captures(inputs: Iterable[str]) -> List[Tuple[str, int]]:
    """Capture files named or found under directories, with their sizes, largest first (so the
    longest tasks start first and the cluster does not wait on one big file at the end)."""
    found = {}
    for item in inputs:
        if os.path.isdir(item):
            for root, _dirs, files in os.walk(item):
                for f in files:
                    if is_capture(f):
                        p = os.path.join(root, f)
                        found[p] = os.path.getsize(p)
        elif os.path.isfile(item):
            found[item] = os.path.getsize(item)
        else:
            raise FileNotFoundError(item)
    return sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))


def is_url(out: str) -> bool:
    return "://" in out and not out.startswith("file://")


def analyse_one(capture: str, tlsdiag: str, out: str) -> dict:
    """One task: run tlsdiag on `capture`, its tables going to `out` (a local directory, or
    any fsspec URL: the parts are then written locally and uploaded). Raises when tlsdiag
    fails, so that Dask retries the task."""
    local_out = tempfile.mkdtemp(prefix="tlsdiag-dask-") if is_url(out) else out
    try:
        done = subprocess.run(
            [tlsdiag, "-q", "-j", "1", "-f", "parquet", "-o", local_out, capture],
            capture_output=True,
            text=True,
        )
        if done.returncode == 2:
            raise RuntimeError(f"tlsdiag failed on {capture}: {done.stderr.strip()}")
        if is_url(out):
            import fsspec

            fs, root = fsspec.core.url_to_fs(out)
            for table in TABLES:
                src = os.path.join(local_out, table)
                for name in os.listdir(src):
                    fs.makedirs(f"{root}/{table}", exist_ok=True)
                    fs.put_file(os.path.join(src, name), f"{root}/{table}/{name}")
        return {"capture": capture, "report": done.stdout.strip()}
    finally:
        if is_url(out):
            shutil.rmtree(local_out, ignore_errors=True)


@dataclass
class ArchiveResult:
    done: List[str] = field(default_factory=list)
    failed: List[Tuple[str, str]] = field(default_factory=list)


def run_archive(
    client,
    captures: List[Tuple[str, int]],
    tlsdiag: str,
    out: str,
    progress: Optional[Callable[[int, int, str], None]] = None,
) -> ArchiveResult:
    """Submits one task per capture (retried once on failure) and waits for all of them."""
    from distributed import as_completed

    if not is_url(out):
        os.makedirs(out, exist_ok=True)
    futures = {}
    for i, (path, size) in enumerate(captures):
        # Priority by size: the scheduler starts the largest captures first.
        f = client.submit(
            analyse_one,
            path,
            tlsdiag,
            out,
            key=f"tlsdiag-{i}-{os.path.basename(path)}",
            retries=1,
            priority=size,
            pure=False,
        )
        futures[f] = path
    result = ArchiveResult()
    total = len(futures)
    for n, f in enumerate(as_completed(list(futures)), start=1):
        path = futures[f]
        if f.status == "error":
            result.failed.append((path, str(f.exception())))
        else:
            result.done.append(path)
        if progress:
            progress(n, total, path)
    return result


def summarize(out: str, top: int = 10):
    """Findings by code and severity, and the servers with the most failed connections, read
    back from the Parquet tables with dask.dataframe."""
    import dask.dataframe as dd

    def table(name):
        pattern = f"{out.rstrip('/')}/{name}/*.parquet"
        return dd.read_parquet(pattern)

    findings = table("findings")
    by_code = (
        findings.groupby(["code", "severity"]).size().compute().sort_values(ascending=False)
    )
    connections = table("connections")
    failed = connections[connections["outcome"].isin(["failed", "refused"])]
    servers = failed.groupby("server").size().compute().sort_values(ascending=False).head(top)
    return by_code, servers


def find_tlsdiag(explicit: Optional[str]) -> str:
    if explicit:
        return explicit
    env = os.environ.get("TLSDIAG")
    if env:
        return env
    found = shutil.which("tlsdiag")
    if not found:
        sys.exit("tlsdiag-dask: no tlsdiag binary: give --tlsdiag PATH (built with --features parquet)")
    return found
