"""The bottom layer: atomic file writes, JSON values, and the row sources that stream
training batches (in memory or memory-mapped). Nothing here knows models."""
