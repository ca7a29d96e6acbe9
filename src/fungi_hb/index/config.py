"""How to index a memory, on its own (no torch) so that the flags can name the defaults without loading
the libraries. ``BACKEND_NAMES`` lists the backends of ``registry.BACKENDS`` (checked there)."""

from dataclasses import dataclass

BACKEND_NAMES = ("scann", "exact", "faiss")
BUILDS = ("auto", "in-memory", "streamed")
PRECISIONS = ("auto", "float32", "bfloat16", "int8")


@dataclass(frozen=True)
class IndexConfig:
    """How to index a memory; the ScaNN fields are the published flags. faiss reads the leaves as its lists
    (nlist, nprobe), the re-ranking candidates, the build and the precision (float32 or int8 codes): see
    ``index/faiss.py``."""

    backend: str = "auto"  # "scann" (paper), "exact" (brute force), "faiss" (pip extra) or "auto" (scann if installed)
    num_neighbors: int = 30  # k returned per query (fixed at build time for ScaNN)
    num_leaves: int = 512  # ScaNN tree leaves (faiss: nlist); clamped to the memory size with a warning
    num_leaves_to_search: int = 32  # ScaNN leaves searched per query (faiss: nprobe)
    num_reordering_candidates: int = 120  # ScaNN candidates re-ranked exactly (faiss: int8 codes)
    anisotropic_quantization_threshold: float = 0.2  # ScaNN AH threshold
    dimensions_per_block: int = 4  # ScaNN AH dimensions per block
    build: str = "auto"  # "in-memory" (every row at once, as published), "streamed" (from disk in chunks), "auto"
    reorder_precision: str = "auto"  # ScaNN re-ranking data: float32 (as published), bfloat16, int8; faiss codes
    training_sample: int = 250_000  # streamed ScaNN/faiss: rows the tree and quantiser are trained on
    chunk_rows: int = 131_072  # rows per chunk when streaming (build and exact search)
    query_chunk: int = 8192  # exact search: most queries per matrix product
    sharded: bool = False  # exact evaluation search under torchrun: each process holds 1/N of the rows
