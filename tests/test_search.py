import logging
import shutil

import numpy as np
import pytest
import torch

from fungi_hb.errors import UserError
from fungi_hb.search import IndexConfig, build_index, load_index, save_index, search_tensor


def clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 40 centres, like patch features."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, dim))
    x = centres[rng.integers(0, 40, n)] + 0.5 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def recall(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(set(x) & set(y)) / len(y) for x, y in zip(a, b)]))


def test_exact_index_is_brute_force_topk():
    data, queries = clustered(500, 16), clustered(50, 16, seed=1)
    ids = build_index(data, IndexConfig(backend="exact", num_neighbors=7, query_chunk=13)).search(queries)
    expected = np.argsort(-(queries @ data.T), axis=1)[:, :7]
    np.testing.assert_array_equal(np.sort(ids, 1), np.sort(expected, 1))


def test_scann_agrees_with_exact_and_reloads_after_move(tmp_path):
    data, queries = clustered(4000, 32), clustered(300, 32, seed=1)
    config = IndexConfig(num_neighbors=10, num_leaves=64, num_leaves_to_search=24, num_reordering_candidates=200)
    scann_index = build_index(data, config)
    exact = build_index(data, IndexConfig(backend="exact", num_neighbors=10)).search(queries)
    found = scann_index.search(queries)
    assert found.dtype == np.int64 and found.shape == (300, 10)
    assert recall(found, exact) >= 0.9
    save_index(scann_index, tmp_path / "a" / "index", config, "mem")
    shutil.move(tmp_path / "a", tmp_path / "b")
    loaded, meta = load_index(tmp_path / "b" / "index")
    assert meta["memory_id"] == "mem" and meta["size"] == 4000 and meta["k"] == 10
    assert recall(loaded.search(queries), found) >= 0.99  # the same index (ties may come back reordered)


def test_num_leaves_larger_than_memory_is_clamped(caplog):
    data = clustered(100, 8)
    with caplog.at_level(logging.WARNING):
        index = build_index(data, IndexConfig(num_neighbors=5, num_leaves=512, num_leaves_to_search=32))
    assert "using 100 leaves" in caplog.text
    assert index.search(data[:3]).shape == (3, 5)


def test_exact_index_save_load_and_tensor_search(tmp_path):
    data = clustered(200, 8)
    config = IndexConfig(backend="exact", num_neighbors=4)
    index = build_index(data, config)
    save_index(index, tmp_path / "idx", config, "m")
    loaded, meta = load_index(tmp_path / "idx")
    assert meta["backend"] == "exact"
    q = torch.from_numpy(data[:5])
    assert torch.equal(search_tensor(loaded, q), search_tensor(index, q))
    assert search_tensor(loaded, q)[:, 0].tolist() == list(range(5))


def test_index_errors(tmp_path):
    with pytest.raises(UserError, match="exceeds the 10 rows"):
        build_index(clustered(10, 4), IndexConfig(num_neighbors=30))
    with pytest.raises(UserError, match="No index"):
        load_index(tmp_path)


def test_auto_backend_falls_back_to_exact_without_scann(monkeypatch, caplog):
    import importlib.util

    from fungi_hb import search

    assert search.resolve_backend("auto") == "scann"  # installed here
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "scann" else real(name))
    with caplog.at_level(logging.WARNING):
        index = build_index(clustered(50, 4), IndexConfig(backend="auto", num_neighbors=3))
    assert isinstance(index, search.ExactIndex) and "ScaNN is not installed" in caplog.text
    with pytest.raises(UserError, match="Unknown --index-backend"):
        search.resolve_backend("faiss")
