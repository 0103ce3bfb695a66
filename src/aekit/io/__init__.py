"""Files aekit writes and reads: atomic writes, model folders, checkpoints."""
