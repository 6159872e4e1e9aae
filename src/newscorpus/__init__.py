"""newscorpus: an annotated, multilingual news corpus, from gathering to versioned HF datasets."""

import os
import sys
from importlib.metadata import PackageNotFoundError, version

# polars' allocator (jemalloc) keeps freed pages for 0.5 to 1 s (polars' own setting); a
# release streams batch after batch through it, and at 1,000,000 articles the pages it kept
# were ~90 MB of the peak (benchmarks/bench_release.py). polars appends this variable to its
# setting when it loads (its documented override): set only if polars is not loaded yet and
# the builder set nothing.
if "polars" not in sys.modules:
    os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")

try:
    __version__ = version("newscorpus")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

__all__ = ["__version__"]
