#!/usr/bin/env python
"""How large a memory the index can take on this machine: build time, peak RAM, recall and speed.

    python benchmarks/bench_scale.py --rows 10240000 --dim 768 [--k 30] [--reorder-precision auto]

Streams clustered random unit vectors as the memory (no backbone, no dataset; the rows are regenerated
from their seed, never held whole), lets the scripts' RAM planning choose how to build the index
(``--index-build``/``--reorder-precision`` as in the scripts, ``auto`` by default), builds it the way the
scripts do, and prints one JSON line: rows, dim, the build chosen, build_seconds, peak_rss_gb,
recall_at_k against exact search for 1,000 queries (memory rows with a little noise), queries_per_second.
Index settings are the published support/evaluation ones (512 leaves, 32 searched, 120 re-ranked).
"""

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Iterator

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from fungi_hb.index import IndexConfig, build_index  # noqa: E402
from fungi_hb.index.plan import plan_index  # noqa: E402
from fungi_hb.log import setup_logging  # noqa: E402

CHUNK = 131_072


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
        raise RuntimeError("the generated memory is never materialised; use the ScaNN backend")


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--dim", type=int, required=True)
    parser.add_argument("--k", type=int, default=30)
    parser.add_argument("--index-build", default="auto", choices=("auto", "in-memory", "streamed"))
    parser.add_argument("--reorder-precision", default="auto", choices=("auto", "float32", "bfloat16", "int8"))
    parser.add_argument("--training-sample", type=int, default=IndexConfig.training_sample)
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    setup_logging("INFO")
    source = GeneratedSource(args.rows, args.dim)
    config = IndexConfig(
        backend="scann",
        num_neighbors=args.k,
        build=args.index_build,
        reorder_precision=args.reorder_precision,
        training_sample=args.training_sample,
    )
    config = plan_index(config, args.rows, args.dim, "benchmark")
    if config.build == "in-memory":  # the published way needs every row at once
        materialised = torch.cat(list(source.chunks(CHUNK)))
        source = replace_source(source, materialised)
    start = time.perf_counter()
    index = build_index(source, config)
    build_seconds = time.perf_counter() - start

    picks = torch.randint(0, args.rows, (args.queries,), generator=torch.Generator().manual_seed(7)).sort().values
    queries = F.normalize(source.take(picks) + 0.05 * torch.randn(args.queries, args.dim) / args.dim**0.5, dim=1)
    start = time.perf_counter()
    found = index.search(queries, args.k)
    search_seconds = time.perf_counter() - start
    exact = exact_top_k(source, queries, args.k)
    recall = sum(len(set(a) & set(b)) for a, b in zip(found.tolist(), exact.tolist())) / (args.queries * args.k)
    out = {
        "rows": args.rows,
        "dim": args.dim,
        "k": args.k,
        "build": config.build,
        "reorder_precision": config.reorder_precision,
        "training_sample": index.settings().get("training_sample", args.rows),
        "build_seconds": round(build_seconds, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "recall_at_k": round(recall, 4),
        "queries_per_second": round(args.queries / search_seconds, 1),
        "threads": torch.get_num_threads(),
    }
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


def replace_source(source: GeneratedSource, tensor: torch.Tensor):
    from fungi_hb.index import TensorSource

    return TensorSource(tensor)


if __name__ == "__main__":
    sys.exit(main())
