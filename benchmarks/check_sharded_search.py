#!/usr/bin/env python
"""Sharded exact search against one process's, and its speed: run under torchrun, one process per GPU
(NCCL), or several CPU processes (gloo).

    torchrun --nproc-per-node 2 benchmarks/check_sharded_search.py [--rows 1000000 --dim 768 --device cuda]

Every process searches an uneven share of the queries (process r takes queries r, r + N, ... in batches
of 512 (r + 1)) against its 1/N of a generated memory; the first process then searches all queries alone
with the unsharded exact index on the same device and prints one JSON line: whether the neighbours are
identical, and the queries per second of both.
"""

import argparse
import json
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F

from fungi_hb.index.backends.exact import ExactIndex
from fungi_hb.index.base import IndexConfig
from fungi_hb.index.sharded import ShardedExactIndex
from fungi_hb.index.source import TensorSource


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--queries", type=int, default=8192)
    parser.add_argument("--k", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    cuda = args.device == "cuda"
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, size = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", rank % torch.cuda.device_count()) if cuda else torch.device("cpu")
    generator = torch.Generator().manual_seed(0)
    memory = F.normalize(torch.randn(args.rows, args.dim, generator=generator), dim=1)  # (M, D), same everywhere
    queries = F.normalize(torch.randn(args.queries, args.dim, generator=generator), dim=1)  # (Q, D)
    config = IndexConfig(backend="exact", num_neighbors=args.k, build="in-memory")
    index = ShardedExactIndex(memory, args.k, config, device, rank, size)
    mine = torch.arange(rank, args.queries, size)
    dist.barrier()
    start = time.perf_counter()
    found = [index.search(queries[batch].to(device)).cpu() for batch in mine.split(512 * (rank + 1))]
    index.finish()
    dist.barrier()
    sharded_seconds = time.perf_counter() - start
    parts = [None] * size
    dist.all_gather_object(parts, (mine, torch.cat(found)))
    if rank == 0:
        got = torch.empty(args.queries, args.k, dtype=torch.int64)
        for ids, rows in parts:
            got[ids] = rows
        single = ExactIndex.build(TensorSource(memory), config, device)
        start = time.perf_counter()
        expected = torch.cat([single.search(q.to(device)).cpu() for q in queries.split(512)])
        single_seconds = time.perf_counter() - start
        report = {
            "processes": size, "device": args.device, "rows": args.rows, "dim": args.dim, "k": args.k,
            "identical": bool(torch.equal(got, expected)),
            "sharded_queries_per_second": round(args.queries / sharded_seconds, 1),
            "single_queries_per_second": round(args.queries / single_seconds, 1),
        }  # fmt: skip
        sys.stdout.write(json.dumps(report) + "\n")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
