"""Run the tlsdiag binary over many packet captures on a Dask distributed cluster.

Each capture is one task that writes that capture's Parquet part files (tables `connections`,
`findings`, `certificates`, `http`) into a shared output directory; the summary is computed
from the Parquet afterwards. See `tlsdiag-dask --help` and python/README.md.
"""

from .engine import CAPTURE_SUFFIXES, collect_captures, run_archive, summarize

__all__ = ["CAPTURE_SUFFIXES", "collect_captures", "run_archive", "summarize"]
