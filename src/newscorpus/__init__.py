"""newscorpus: an annotated, multilingual news corpus, from gathering to versioned HF datasets."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("newscorpus")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

__all__ = ["__version__"]
