"""Label Studio: the one implementation of the annotation backend, and its local server."""
