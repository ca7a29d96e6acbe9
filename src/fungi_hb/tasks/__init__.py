"""In-context tasks, one module each (``base.register``): what a memory row carries, how neighbours
combine, how a prediction becomes pixels and how it is scored. Segmentation and depth share everything
else (features, memories, indexes, pieces, processes)."""
