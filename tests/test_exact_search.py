"""Exact search: the k highest scores, ties to the lower row id, the same bits however the queries are
batched, and sharded over gloo processes (N = 1, 2, 3) bit-identical to one process."""

import os

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from fungi_hb.index.backends.exact import ExactIndex, top_k
from fungi_hb.index.base import IndexConfig
from fungi_hb.index.sharded import ShardedExactIndex
from fungi_hb.index.source import TensorSource

# chunks of 64 rows and blocks of 16 queries: many chunks, merges and padded blocks on a small memory
SMALL = IndexConfig(backend="exact", num_neighbors=7, chunk_rows=64, query_chunk=16)


def reference(queries: torch.Tensor, data: torch.Tensor, k: int) -> np.ndarray:
    """Slow and plain: float64 scores (exact for small integers), sorted by (-score, id) per query."""
    scores = queries.double().numpy() @ data.double().numpy().T  # (N, M)
    ids = np.arange(data.shape[0])
    return np.stack([np.lexsort((ids, -row))[:k] for row in scores])


def tied_memory(rows: int = 300, dim: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Small integer rows, each drawn from 40 distinct ones: many equal scores, all computed exactly."""
    g = torch.Generator().manual_seed(seed)
    distinct = torch.randint(-3, 4, (40, dim), generator=g).float()
    data = distinct[torch.randint(0, 40, (rows,), generator=g)]
    queries = torch.randint(-3, 4, (50, dim), generator=g).float()
    return data, queries


def test_exact_search_breaks_ties_by_row_id():
    data, queries = tied_memory()
    index = ExactIndex.build(TensorSource(data), SMALL, torch.device("cpu"))
    assert np.array_equal(index.search(queries).numpy(), reference(queries, data, 7))


def test_top_k_gives_equal_scores_to_the_lowest_ids():
    scores = torch.tensor([[1.0, 5.0, 5.0, 2.0, 5.0, 5.0, 0.0], [3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0]])
    values, ids = top_k(scores, first_row=100, k=3)
    assert ids.tolist() == [[101, 102, 104], [100, 101, 102]] and values[0].tolist() == [5.0, 5.0, 5.0]


def test_the_same_bits_however_the_queries_are_batched():
    g = torch.Generator().manual_seed(1)
    data, queries = torch.randn(1000, 32, generator=g), torch.randn(97, 32, generator=g)
    index = ExactIndex.build(TensorSource(data), SMALL, torch.device("cpu"))
    whole = index.search(queries)
    one_by_one = torch.cat([index.search(q[None]) for q in queries])
    in_sevens = torch.cat([index.search(queries[i : i + 7]) for i in range(0, 97, 7)])
    assert torch.equal(whole, one_by_one) and torch.equal(whole, in_sevens)
    agree = (whole.numpy() == reference(queries, data, 7)).all(axis=1).mean()  # float32 vs float64 near-ties aside
    assert agree >= 0.95


def _shard_worker(rank: int, size: int, folder: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{folder}/store", rank=rank, world_size=size)
    data, queries = torch.load(f"{folder}/memory.pth")
    index = ShardedExactIndex(data, 7, SMALL, torch.device("cpu"), rank, size)
    # uneven work: process r searches queries r, r + N, ... in batches of r + 1 (some rounds empty)
    mine = torch.arange(rank, len(queries), size)
    found = [index.search(queries[batch]) for batch in mine.split(rank + 1)]
    index.finish()
    torch.save((mine, torch.cat(found) if found else torch.empty(0, 7, dtype=torch.int64)), f"{folder}/out{rank}.pth")
    dist.destroy_process_group()


@pytest.mark.parametrize("size", [1, 3])  # one process; an uneven share of 11 chunks
def test_sharded_search_is_one_process_search_bit_for_bit(tmp_path, size):
    tied, tied_queries = tied_memory(rows=500)
    g = torch.Generator().manual_seed(2)
    data = torch.cat([tied, torch.randn(200, 8, generator=g)])  # (700, 8): 11 chunks of 64
    queries = torch.cat([tied_queries, torch.randn(30, 8, generator=g)])
    torch.save((data, queries), tmp_path / "memory.pth")
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    mp.spawn(_shard_worker, args=(size, str(tmp_path)), nprocs=size, join=True)
    expected = ExactIndex.build(TensorSource(data), SMALL, torch.device("cpu")).search(queries)
    got = torch.empty_like(expected)
    for rank in range(size):
        mine, found = torch.load(tmp_path / f"out{rank}.pth")
        got[mine] = found
    assert torch.equal(got, expected)
    assert np.array_equal(expected[: len(tied_queries)].numpy(), reference(tied_queries, data, 7)[: len(tied_queries)])


def test_nan_scores_are_refused_in_words():
    from fungi_hb.errors import UserError

    data = torch.ones(10, 4)
    data[3] = torch.nan
    index = ExactIndex.build(TensorSource(data), SMALL, torch.device("cpu"))
    with pytest.raises(UserError, match="NaN scores"):
        index.search(torch.ones(2, 4))


def test_sharding_needs_the_exact_backend_and_says_so_before_anything_runs(tmp_path, caplog):
    from fungi_hb.cli import eval_gradients

    args = ["--shard-exact-search", "--index-backend", "scann", "--data-dir", str(tmp_path / "absent")]
    assert eval_gradients.main(args) == 2
    assert "pass --index-backend exact" in caplog.text and "does not exist" not in caplog.text
