"""How to index a memory, on its own (no torch) so that the flags can name the defaults without loading
the libraries."""

import pkgutil
from dataclasses import dataclass
from pathlib import Path

from fungi_hb.settings import Flag, finite_float, positive_int, setting

BUILDS = ("auto", "in-memory", "streamed")
PRECISIONS = ("auto", "float32", "bfloat16", "int8")
GROUP = "nearest-neighbour index (ScaNN flags as published; faiss reads the leaves as its lists)"


def backend_names() -> tuple[str, ...]:
    """The backends: the modules of ``index/backends/`` (listed, not imported)."""
    folder = Path(__file__).with_name("backends")
    return tuple(sorted(module.name for module in pkgutil.iter_modules([str(folder)])))


@dataclass(frozen=True)
class IndexConfig:
    """How to index a memory; the ScaNN fields are the published flags. faiss reads the leaves as its lists
    (nlist, nprobe), the re-ranking candidates, the build and the precision (float32 or int8 codes): see
    ``index/backends/faiss.py``."""

    backend: str = setting(
        "auto",
        Flag(
            "--index-backend",
            GROUP,
            "scann (the paper's), exact (brute force: deterministic, on the GPU if there), faiss (pip install "
            "faiss-cpu: inverted lists, on the GPU with faiss-gpu), or auto: scann where installed (Linux x86-64), "
            "else exact.",
            choices=lambda: ("auto", *backend_names()),
        ),
    )
    num_neighbors: int = setting(
        30, Flag("--num-neighbors", GROUP, "Neighbours returned per query.", parse=positive_int)
    )
    num_leaves: int = setting(
        512,
        Flag(
            "--num-leaves", GROUP, "ScaNN tree leaves / faiss lists (clamped to the memory size).", parse=positive_int
        ),
    )
    num_leaves_to_search: int = setting(
        32, Flag("--num-leaves-to-search", GROUP, "ScaNN leaves / faiss lists searched per query.", parse=positive_int)
    )
    num_reordering_candidates: int = setting(
        120,
        Flag(
            "--num-reordering-candidates",
            GROUP,
            "ScaNN (and faiss int8) candidates re-ranked exactly.",
            parse=positive_int,
        ),
    )
    anisotropic_quantization_threshold: float = setting(
        0.2,
        Flag(
            "--anisotropic-quantization-threshold",
            GROUP,
            "ScaNN anisotropic quantisation threshold.",
            parse=finite_float,
        ),
    )
    dimensions_per_block: int = setting(
        4, Flag("--dimensions-per-block", GROUP, "ScaNN AH dimensions per block.", parse=positive_int)
    )
    build: str = setting(
        "auto",
        Flag(
            "--index-build",
            GROUP,
            "in-memory: from every row at once (published); streamed: trained on a sample, filled from disk in "
            "chunks (exact: searched in chunks); auto: in-memory when it fits in RAM.",
            choices=BUILDS,
        ),
    )
    reorder_precision: str = setting(
        "auto",
        Flag(
            "--reorder-precision",
            GROUP,
            "ScaNN re-ranking data: float32 (published), bfloat16 or int8 (faiss: float32 or int8 codes); auto: "
            "float32 when it fits in RAM, else the most precise that fits (with a warning).",
            choices=PRECISIONS,
        ),
    )
    training_sample: int = setting(
        250_000,
        Flag(
            "--index-training-sample",
            GROUP,
            "Streamed ScaNN and faiss builds: rows the tree and quantiser are trained on.",
            parse=positive_int,
        ),
    )
    chunk_rows: int = setting(
        131_072,
        Flag(
            "--index-chunk-rows",
            GROUP,
            "Rows per chunk when an index is built or searched from disk (memory against speed).",
            parse=positive_int,
        ),
    )
    query_chunk: int = 8192  # exact search: most queries per matrix product
    sharded: bool = setting(
        False,
        Flag(
            "--shard-exact-search",
            GROUP,
            "With --index-backend exact under torchrun: each process holds 1/N of the evaluation memory's rows (on its "
            "GPU where they fit) and searches every process's queries; the neighbours are the same bits as one "
            "process's. For memories larger than one GPU (or host) holds.",
        ),
    )
