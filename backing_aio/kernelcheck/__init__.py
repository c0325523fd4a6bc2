"""Cross-check of the model against the running kernel: overlayfs and FUSE passthrough."""
