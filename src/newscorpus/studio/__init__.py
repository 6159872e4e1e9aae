"""Label Studio: a local server, the labeling config, push of articles and pull of annotations."""
