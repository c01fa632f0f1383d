"""tlsdiag-dask on a real distributed.LocalCluster with 2 worker processes, on real captures of
captures/: the Parquet rows equal those of a single-machine tlsdiag run; an unreadable capture
is retried, then reported as failed; the command line prints the summary from the tables."""

import os
import subprocess

import pandas as pd
import pytest
from distributed import Client, LocalCluster

from tlsdiag_dask import collect_captures, run_archive, summarize
from tlsdiag_dask.cli import main

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
CAPTURES = os.path.join(REPO, "captures")
NAMES = [
    "tls12-client-cert-empty-required.pcap",
    "http-401-403.pcap",
    "tls12-ca-list-17k.pcap",
    "nginx-mtls-403.pcap",
    "tls13-pha.pcap",
    "apache-reneg-tls12.pcap",
    "tls12-cr-small.pcap.gz",
    "tls12-cr-small.pcapng.zst",
]


@pytest.fixture(scope="module")
def tlsdiag():
    path = os.environ.get("TLSDIAG") or os.path.join(REPO, "target", "release", "tlsdiag")
    assert os.path.exists(path), f"build tlsdiag first: cargo build --release --features parquet ({path})"
    return path


@pytest.fixture(scope="module")
def client():
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def tables(out):
    return {
        t: pd.read_parquet(os.path.join(out, t)).sort_values(["file", "stream"], kind="stable").reset_index(drop=True)
        for t in ("connections", "findings", "certificates", "http")
    }


def test_cluster_rows_equal_a_single_machine_run(tlsdiag, client, tmp_path):
    paths = [os.path.join(CAPTURES, n) for n in NAMES]
    garbage = tmp_path / "garbage.pcap"
    garbage.write_bytes(b"this is not a capture" * 10)
    captures = collect_captures(paths + [str(garbage)])
    assert captures[0][1] >= captures[-1][1], "largest first"
    out = tmp_path / "cluster"
    result = run_archive(client, captures, tlsdiag, str(out))
    assert sorted(result.done) == sorted(paths)
    assert [p for p, _ in result.failed] == [str(garbage)]
    assert "garbage.pcap" in result.failed[0][1]

    single = tmp_path / "single"
    subprocess.run([tlsdiag, "-q", "-f", "parquet", "-o", str(single)] + paths, check=True, capture_output=True)
    a, b = tables(str(out)), tables(str(single))
    for t in a:
        pd.testing.assert_frame_equal(a[t], b[t], check_like=False, obj=t)
    assert len(a["connections"]) == len(NAMES)
    codes = sorted(a["findings"]["code"].unique())
    assert "client-cert-empty" in codes and "ca-list-over-limit" in codes
    # http-401-403.pcap: 401, 200, 403 in clear; the TLS captures' HTTP is encrypted (no keys).
    assert a["http"]["status"].dropna().astype(int).tolist() == [401, 200, 403]

    by_code, servers = summarize(str(out))
    expected = a["findings"].groupby(["code", "severity"]).size()
    assert by_code.sort_index().to_dict() == expected.sort_index().to_dict()
    failed = a["connections"][a["connections"]["outcome"].isin(["failed", "refused"])]
    assert servers.to_dict() == failed.groupby("server").size().to_dict()
    assert servers.to_dict() == {"127.0.0.1:44310": 1}  # the empty-certificate handshake


def test_command_line_prints_the_summary(tlsdiag, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["--workers", "2", "--tlsdiag", tlsdiag, "--out", str(out),
                 os.path.join(CAPTURES, "tls12-client-cert-empty-required.pcap"),
                 os.path.join(CAPTURES, "http-401-403.pcap")])
    assert code == 0
    text = capsys.readouterr().out
    assert "2 capture(s) analysed, 0 failed" in text
    assert "error    client-cert-empty" in text
    assert "127.0.0.1:44310" in text
