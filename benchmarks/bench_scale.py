#!/usr/bin/env python
"""How large a memory the index can take on this machine: build time, peak RAM, recall and speed.

    python benchmarks/bench_scale.py --rows 10240000 --dim 768 [--k 30] [--reorder-precision auto]
        [--backend faiss scann exact]

Streams clustered random unit vectors as the memory (no backbone, no dataset; the rows are regenerated
from their seed, never held whole), lets the scripts' RAM planning choose how to build the index
(``--index-build``/``--reorder-precision`` as in the scripts, ``auto`` by default), builds it the way the
scripts do, and prints one JSON line per backend: backend, rows, dim, the build chosen, build_seconds,
peak_rss_gb, recall_at_k against exact search for 1,000 queries (memory rows with a little noise),
queries_per_second and the index's settings. Each backend (``--backend``, by default every installed one)
is built and searched in its own child process, so that its peak RSS is its own. Index settings are the
published support/evaluation ones (512 leaves, 32 searched, 120 re-ranked; faiss reads them as nlist,
nprobe and re-ranked candidates). A streamed exact or faiss index searches the memory rows themselves:
those are written once to a tensor file under ``--work-dir`` (rows x dim x 4 bytes of disk) and mapped,
as the scripts map ``features.pth``.
"""

import argparse
import importlib.util
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import torch
import torch.nn.functional as F

from fungi_hb.errors import UserError
from fungi_hb.index import FileSource, IndexConfig, TensorSource, build_index
from fungi_hb.index.plan import plan_index
from fungi_hb.log import setup_logging
from fungi_hb.storage.matrix_file import write_matrix

CHUNK = 131_072
BACKENDS_HERE = ("faiss", "scann", "exact")
READS_ROWS = ("exact", "faiss")  # streamed, these search the memory rows: given them as a mapped file


class GeneratedSource:
    """Rows of unit vectors around ``clusters`` random centres, chunk ``c`` made from seed ``c``."""

    def __init__(self, rows: int, dim: int, clusters: int = 1000, spread: float = 1.0) -> None:
        self.rows, self.dim = rows, dim
        self.centres = F.normalize(torch.randn(clusters, dim, generator=torch.Generator().manual_seed(-1)), dim=1)
        self.spread = spread

    def chunk(self, index: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(index)
        count = min(CHUNK, self.rows - index * CHUNK)
        centre = self.centres[torch.randint(0, len(self.centres), (count,), generator=generator)]  # (n, D)
        noise = torch.randn(count, self.dim, generator=generator) * (self.spread / self.dim**0.5)  # (n, D)
        return F.normalize(centre + noise, dim=1)

    def chunks(self, chunk_rows: int) -> Iterator[torch.Tensor]:
        for index in range(-(-self.rows // CHUNK)):
            yield self.chunk(index)

    def take(self, ids: torch.Tensor) -> torch.Tensor:
        out = torch.empty(len(ids), self.dim)
        chunk_of = ids // CHUNK
        for index in chunk_of.unique().tolist():
            where = (chunk_of == index).nonzero().flatten()
            out[where] = self.chunk(index)[ids[where] - index * CHUNK]
        return out

    @property
    def tensor(self) -> torch.Tensor:
        raise RuntimeError("the generated memory is never materialised: give this backend a FileSource")


def exact_top_k(source: GeneratedSource, queries: torch.Tensor, k: int) -> torch.Tensor:
    best_scores, best_ids = None, None
    for index, chunk in enumerate(source.chunks(CHUNK)):
        scores, ids = torch.topk(queries @ chunk.T, min(k, len(chunk)), dim=1)
        ids += index * CHUNK
        if best_scores is not None:
            scores, order = torch.topk(torch.cat([best_scores, scores], 1), k, dim=1)
            ids = torch.gather(torch.cat([best_ids, ids], 1), 1, order)
        best_scores, best_ids = scores, ids
    return best_ids


def peak_rss_bytes() -> int:
    """This process's peak resident memory: VmHWM (Linux; unlike ru_maxrss, a spawned child does not
    inherit its parent's peak through exec), else ru_maxrss."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def installed_backends() -> list[str]:
    """Every backend of ``BACKENDS_HERE`` whose library is installed (exact needs none)."""
    return [name for name in BACKENDS_HERE if name == "exact" or importlib.util.find_spec(name) is not None]


def measure(args: dict, config: IndexConfig, rows_file: str | None, queries: torch.Tensor, truth: torch.Tensor) -> dict:
    """Build and search one index (in a child process: the peak RSS is this backend's) -> its JSON line."""
    setup_logging("INFO")
    source = GeneratedSource(args["rows"], args["dim"])
    if config.build == "in-memory":  # the published way needs every row at once
        source = TensorSource(torch.cat(list(source.chunks(CHUNK))))
    elif rows_file is not None:
        source = FileSource(Path(rows_file))
    start = time.perf_counter()
    index = build_index(source, config)
    build_seconds = time.perf_counter() - start
    start = time.perf_counter()
    found = index.search(queries, args["k"])  # (Q, k)
    search_seconds = time.perf_counter() - start
    recall = sum(len(set(a) & set(b)) for a, b in zip(found.tolist(), truth.tolist())) / truth.numel()
    return {
        "backend": config.backend,
        "rows": args["rows"],
        "dim": args["dim"],
        "k": args["k"],
        "build": config.build,
        "reorder_precision": config.reorder_precision,
        "training_sample": index.settings().get("training_sample", args["rows"]),
        "build_seconds": round(build_seconds, 1),
        "peak_rss_gb": round(peak_rss_bytes() / 2**30, 2),
        "recall_at_k": round(recall, 4),
        "queries_per_second": round(len(queries) / search_seconds, 1),
        "threads": torch.get_num_threads(),
        "settings": index.settings(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--dim", type=int, required=True)
    parser.add_argument("--k", type=int, default=30)
    parser.add_argument("--index-build", default="auto", choices=("auto", "in-memory", "streamed"))
    parser.add_argument("--reorder-precision", default="auto", choices=("auto", "float32", "bfloat16", "int8"))
    parser.add_argument("--training-sample", type=int, default=IndexConfig.training_sample)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument(
        "--backend", nargs="+", choices=BACKENDS_HERE, help="backends to compare (default: every installed one)"
    )
    parser.add_argument("--work-dir", type=Path, help="where a streamed exact or faiss index's rows file goes (temp)")
    args = parser.parse_args()
    setup_logging("INFO")
    source = GeneratedSource(args.rows, args.dim)
    picks = torch.randint(0, args.rows, (args.queries,), generator=torch.Generator().manual_seed(7)).sort().values
    queries = F.normalize(source.take(picks) + 0.05 * torch.randn(args.queries, args.dim) / args.dim**0.5, dim=1)
    truth = exact_top_k(source, queries, args.k)  # (Q, k), once for every backend
    children = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(dir=args.work_dir) as work:
        rows_file = None
        for backend in args.backend or installed_backends():
            config = IndexConfig(
                backend=backend,
                num_neighbors=args.k,
                build=args.index_build,
                reorder_precision=args.reorder_precision,
                training_sample=args.training_sample,
            )
            try:
                config = plan_index(config, args.rows, args.dim, "benchmark")
                reads = config.build == "streamed" and backend in READS_ROWS
                if reads and rows_file is None:
                    rows_file = Path(work) / "features.pth"
                    write_matrix(rows_file, args.rows, args.dim, torch.float32, source.chunks(CHUNK))
                with children.Pool(1) as pool:
                    out = pool.apply(measure, (vars(args), config, str(rows_file) if reads else None, queries, truth))
            except UserError as exc:
                out = {"backend": backend, "rows": args.rows, "dim": args.dim, "error": str(exc)}
            sys.stdout.write(json.dumps(out) + "\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
