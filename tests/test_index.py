"""The index backends behind one interface: exact against brute force, ScaNN against exact, folders that
move, and the registry."""

import logging
import shutil

import numpy as np
import pytest
import torch

from fungi_hb.errors import UserError
from fungi_hb.index import IndexConfig, NeighborIndex, TensorSource, backend_classes, load_index, save_index
from fungi_hb.index import build_index as build_from_source


def clustered(n: int, dim: int, seed: int = 0) -> torch.Tensor:
    """Unit vectors around 40 centres, like patch features."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, dim))
    x = centres[rng.integers(0, 40, n)] + 0.5 * rng.normal(size=(n, dim))
    return torch.from_numpy((x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32))


def build_index(data: torch.Tensor, config: IndexConfig):
    return build_from_source(TensorSource(data), config)


def recall(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(np.mean([len(set(x) & set(y)) / len(y) for x, y in zip(a.tolist(), b.tolist())]))


def test_exact_index_is_brute_force_topk():
    data, queries = clustered(500, 16), clustered(50, 16, seed=1)
    ids = build_index(data, IndexConfig(backend="exact", num_neighbors=7, query_chunk=13)).search(queries)
    expected = np.argsort(-(queries.numpy() @ data.numpy().T), axis=1)[:, :7]
    assert ids.dtype == torch.int64 and ids.shape == (50, 7)
    np.testing.assert_array_equal(np.sort(ids.numpy(), 1), np.sort(expected, 1))


def test_scann_agrees_with_exact_and_reloads_after_move(tmp_path):
    data, queries = clustered(4000, 32), clustered(300, 32, seed=1)
    config = IndexConfig(num_neighbors=10, num_leaves=64, num_leaves_to_search=24, num_reordering_candidates=200)
    scann_index = build_index(data, config)
    exact = build_index(data, IndexConfig(backend="exact", num_neighbors=10)).search(queries)
    found = scann_index.search(queries)
    assert found.dtype == torch.int64 and found.shape == (300, 10)
    assert recall(found, exact) >= 0.85  # 0.905-0.982 over 60 builds: ScaNN's training is random per process
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
    assert "leaves searched per query hold about" not in caplog.text  # 32 points for k = 5
    assert index.search(data[:3]).shape == (3, 5)


def test_leaves_too_sparse_for_k_are_warned_about_before_the_long_part(caplog):
    from fungi_hb.index.plan import plan_index

    with caplog.at_level(logging.WARNING):  # planned before any feature is extracted
        plan_index(IndexConfig(backend="scann", num_neighbors=30, num_leaves=512, num_leaves_to_search=32), 200, 8, "x")
    assert "The 32 leaves searched per query hold about 32 of the 200 points, for k = 30" in caplog.text
    assert "`index.backend` exact" in caplog.text


def test_exact_index_folder_holds_no_copy_and_searches_the_memory_it_is_given(tmp_path):
    data = clustered(200, 8)
    config = IndexConfig(backend="exact", num_neighbors=4)
    index = build_index(data, config)
    save_index(index, tmp_path / "idx", config, "m")
    assert sorted(p.name for p in (tmp_path / "idx").iterdir()) == ["fungi_index.json"]
    loaded, meta = load_index(tmp_path / "idx", features=data)
    assert meta["backend"] == "exact" and loaded.name == "exact"
    assert torch.equal(loaded.search(data[:5]), index.search(data[:5]))
    assert loaded.search(data[:5])[:, 0].tolist() == list(range(5))
    assert loaded.place(data) is loaded.data  # look-ups use the index's own rows: no second copy


def test_index_errors(tmp_path):
    with pytest.raises(UserError, match="exceeds the 10 rows"):
        build_index(clustered(10, 4), IndexConfig(num_neighbors=30))
    with pytest.raises(UserError, match="No index"):
        load_index(tmp_path / "absent")
    with pytest.raises(UserError, match="is empty: its build was stopped"):
        load_index(tmp_path)


def test_every_backend_implements_the_interface():
    for name, backend in backend_classes().items():
        assert issubclass(backend, NeighborIndex) and backend.name == name
        index = build_index(clustered(300, 8), IndexConfig(backend=name, num_neighbors=3, num_leaves=8))
        ids = index.search(clustered(4, 8, seed=2))
        assert ids.shape == (4, 3) and ids.dtype == torch.int64 and index.returned_k() == 3


def test_auto_backend_falls_back_to_exact_without_scann(monkeypatch, caplog):
    import importlib.util

    from fungi_hb.index import registry

    assert registry.resolve_backend("auto") == "scann"  # installed here
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "scann" else real(name))
    with caplog.at_level(logging.WARNING):
        index = build_index(clustered(50, 4), IndexConfig(backend="auto", num_neighbors=3))
    assert index.name == "exact" and "ScaNN is not installed" in caplog.text and "using the exact index" in caplog.text
    with pytest.raises(UserError, match="Unknown `index.backend`"):
        registry.resolve_backend("annoy")


@pytest.mark.parametrize("precision", ["float32", "bfloat16", "int8"])
def test_streamed_scann_matches_the_in_memory_build(tmp_path, precision):
    """Trained on a sample, filled chunk by chunk: the recall of the published build (within 0.05 here), and
    the row ids survive a save and load."""
    data, queries = clustered(20000, 32), clustered(300, 32, seed=1)
    exact = build_index(data, IndexConfig(backend="exact", num_neighbors=10)).search(queries)
    base = dict(num_neighbors=10, num_leaves=64, num_leaves_to_search=16, num_reordering_candidates=200)
    in_memory = build_index(data, IndexConfig(**base, build="in-memory"))
    streamed = build_index(
        data, IndexConfig(**base, build="streamed", reorder_precision=precision, training_sample=10, chunk_rows=3000)
    )
    assert streamed.settings()["training_sample"] == 6400  # at least 100 rows per leaf
    assert sorted(streamed.row_ids.tolist()) == list(range(20000))
    found = streamed.search(queries)
    # Two random trainings are compared (int8 was 0.003-0.026 above a 0.02 allowance over 28 runs), so the
    # allowance is 0.05 here; the 0.02 target is measured at 1M rows by benchmarks/bench_scale.py.
    assert recall(found, exact) >= recall(in_memory.search(queries), exact) - 0.05
    save_index(streamed, tmp_path / "index", IndexConfig(**base), "m")
    loaded, _ = load_index(tmp_path / "index")
    assert recall(loaded.search(queries), found) >= 0.99


def test_exact_search_in_chunks_equals_one_pass():
    data, queries = clustered(1000, 16), clustered(64, 16, seed=3)
    whole = build_index(data, IndexConfig(backend="exact", num_neighbors=9, build="in-memory")).search(queries)
    chunked = build_index(data, IndexConfig(backend="exact", num_neighbors=9, build="streamed", chunk_rows=37))
    assert torch.equal(chunked.search(queries), whole)


def test_an_index_folder_with_a_pickle_is_not_loaded(tmp_path):
    data = clustered(300, 8)
    config = IndexConfig(num_neighbors=3, num_leaves=8)
    save_index(build_index(data, config), tmp_path / "index", config, "m")
    (tmp_path / "index" / "scann_docids.pkl").write_bytes(b"not loaded")
    with pytest.raises(UserError, match="pickle"):
        load_index(tmp_path / "index")


def test_scann_never_pads_missing_neighbours_with_row_zero():
    """With too few points in the searched leaves ScaNN fills the gaps with id 0: refused, never used."""
    data = clustered(200, 32)
    config = IndexConfig(backend="scann", num_neighbors=10, num_leaves=64, num_leaves_to_search=1)
    index = build_index(data, config)
    with pytest.raises(UserError, match="fewer than 10 neighbours"):
        index.search(data[:20])


def test_fewer_reordering_candidates_than_neighbours_is_refused_up_front():
    from fungi_hb.index.plan import plan_index

    config = IndexConfig(backend="scann", num_neighbors=30, num_reordering_candidates=3)
    with pytest.raises(UserError, match="`index.num_reordering_candidates` 3 is below `index.num_neighbors` 30"):
        plan_index(config, 10_000, 64, "support")


def test_a_reranking_precision_the_exact_index_ignores_is_warned_about(caplog):
    from fungi_hb.index.plan import plan_index

    with caplog.at_level(logging.WARNING):
        config = plan_index(IndexConfig(backend="exact", num_neighbors=4, reorder_precision="int8"), 100, 8, "x")
    assert config.reorder_precision == "float32" and "is not one the exact index keeps (float32 rows)" in caplog.text


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "abc"])
def test_a_threshold_that_is_not_a_finite_number_is_refused_when_parsed(value, capsys):
    from fungi_hb.cli import create_memory_bank

    with pytest.raises(SystemExit) as stop:
        create_memory_bank.build_parser().parse_args(["--anisotropic-quantization-threshold", value])
    assert stop.value.code == 2 and "--anisotropic-quantization-threshold" in capsys.readouterr().err


@pytest.mark.slow
def test_scann_builds_over_tied_rows_repeat_across_processes(tmp_path):
    """20,000 rows drawn from 2,000 distinct ones (ties, as in patch memories). Built in separate processes
    with address-space randomisation on, such builds differed here (3 different results in 4 runs); through
    ``build_index_folder`` (a child with randomisation off) every build searches the same."""
    import hashlib

    from fungi_hb.index import build_index_folder
    from fungi_hb.storage.matrix_file import write_matrix

    generator = torch.Generator().manual_seed(0)
    distinct = torch.nn.functional.normalize(torch.randn(2000, 128, generator=generator), dim=1)
    data = distinct[torch.randint(0, 2000, (20000,), generator=generator)]  # (20000, 128), with ties
    write_matrix(tmp_path / "f.pth", 20000, 128, torch.float32, [data])
    config = IndexConfig(backend="scann", num_neighbors=10, num_leaves=64, num_leaves_to_search=8,
                         num_reordering_candidates=40, build="in-memory", reorder_precision="float32")  # fmt: skip
    found = set()
    for i in range(4):
        build_index_folder(tmp_path / "f.pth", tmp_path / f"idx{i}", config, "m", torch.device("cpu"))
        index, _ = load_index(tmp_path / f"idx{i}", "cpu", data)
        found.add(hashlib.sha1(index.search(distinct[:500]).numpy().tobytes()).hexdigest())
    assert len(found) == 1


def test_a_user_error_in_the_build_process_comes_back_as_one(tmp_path):
    from fungi_hb.index import build_index_folder
    from fungi_hb.storage.matrix_file import write_matrix

    write_matrix(tmp_path / "f.pth", 200, 8, torch.float32, [clustered(200, 8)])
    config = IndexConfig(backend="scann", num_neighbors=300, num_leaves=4, num_leaves_to_search=4)
    with pytest.raises(UserError, match="`index.num_neighbors` 300 exceeds the 200 rows"):
        build_index_folder(tmp_path / "f.pth", tmp_path / "idx", config, "m", torch.device("cpu"))
    assert not (tmp_path / "idx").exists()
