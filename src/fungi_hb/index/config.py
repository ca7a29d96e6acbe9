"""How to index a memory, on its own (no torch) so that the flags can name the defaults without loading
the libraries. ``BACKEND_NAMES`` lists the backends of ``registry.BACKENDS`` (checked there)."""

from dataclasses import dataclass

BACKEND_NAMES = ("scann", "exact")
BUILDS = ("auto", "in-memory", "streamed")
PRECISIONS = ("auto", "float32", "bfloat16", "int8")


@dataclass(frozen=True)
class IndexConfig:
    """How to index a memory; the ScaNN fields are the published flags."""

    backend: str = "auto"  # "scann" (the paper), "exact" (brute force) or "auto" (scann where installed)
    num_neighbors: int = 30  # k returned per query (fixed at build time for ScaNN)
    num_leaves: int = 512  # ScaNN tree leaves; clamped to the memory size with a warning
    num_leaves_to_search: int = 32  # ScaNN leaves searched per query
    num_reordering_candidates: int = 120  # ScaNN candidates re-ranked exactly
    anisotropic_quantization_threshold: float = 0.2  # ScaNN AH threshold
    dimensions_per_block: int = 4  # ScaNN AH dimensions per block
    build: str = "auto"  # "in-memory" (every row at once, as published), "streamed" (from disk in chunks), "auto"
    reorder_precision: str = "auto"  # ScaNN re-ranking data: float32 (as published), bfloat16 or int8
    training_sample: int = 250_000  # streamed ScaNN: rows the tree and quantiser are trained on
    chunk_rows: int = 131_072  # rows per chunk when streaming (build and exact search)
    query_chunk: int = 8192  # exact search: most queries per matrix product
