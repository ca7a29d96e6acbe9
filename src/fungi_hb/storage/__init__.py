"""Files on disk: atomic writes, tensors, memory banks, projection matrices."""
