"""The `make demo` pipeline and its bundled sample sources (synthetic articles, feed, annotations)."""
