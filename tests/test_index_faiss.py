"""The faiss backend: its kinds against brute force, folders that reload, builds that repeat, short results
refused, the RAM plan's choice of codes, and the error when faiss is missing."""

import json
import logging
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from fungi_hb.errors import UserError
from fungi_hb.index import IndexConfig, TensorSource, build_index, load_index, resolve_backend, save_index

faiss = pytest.importorskip("faiss")

from fungi_hb.index.backends.faiss import FaissIndex  # noqa: E402


def clustered(n: int, dim: int, seed: int = 0) -> torch.Tensor:
    """Unit vectors around 40 centres, like patch features."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, dim))
    x = centres[rng.integers(0, 40, n)] + 0.5 * rng.normal(size=(n, dim))
    return torch.from_numpy((x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32))


def brute_force(data: torch.Tensor, queries: torch.Tensor, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids [N, k] best first, all scores [N, M]) in float64: the slow, obviously right reference."""
    scores = queries.double().numpy() @ data.double().numpy().T  # (N, M)
    return np.argsort(-scores, axis=1, kind="stable")[:, :k], scores


def recall(found: torch.Tensor, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found.tolist(), truth.tolist())]))


def faiss_config(**fields) -> IndexConfig:
    base = dict(backend="faiss", num_neighbors=10, num_leaves=128, num_leaves_to_search=16, training_sample=5000)
    return IndexConfig(**{**base, **fields})


def build(data: torch.Tensor, config: IndexConfig) -> FaissIndex:
    return build_index(TensorSource(data), config)


@pytest.fixture(scope="module")
def memory() -> tuple[torch.Tensor, torch.Tensor]:
    """20,000 x 64 rows (enough for 128 lists of 39+) and 300 queries."""
    return clustered(20_000, 64), clustered(300, 64, seed=1)


@pytest.mark.parametrize("precision, kind", [("float32", "ivf-flat"), ("int8", "ivf-sq8")])
@pytest.mark.parametrize("build_way", ["in-memory", "streamed"])
def test_inverted_lists_find_the_true_neighbours(memory, precision, kind, build_way):
    data, queries = memory
    index = build(data, faiss_config(reorder_precision=precision, build=build_way, chunk_rows=3000))
    truth, _ = brute_force(data, queries, 10)
    found = index.search(queries)
    assert index.settings()["kind"] == kind and index.settings()["nprobe"] == 16
    assert found.dtype == torch.int64 and found.shape == (300, 10)
    # 16 of 128 lists searched: 0.985 measured for every kind and build here (int8 codes re-ranked exactly
    # lose nothing next to float32 lists); 0.95 leaves room for another BLAS's k-means.
    assert recall(found, truth) >= 0.95


def test_a_memory_too_small_for_its_lists_is_searched_exactly(caplog):
    """2,000 rows for the default 512 lists (39 rows each needed): the flat kind, equal to brute force up to
    float32 rounding (scores within 1e-5 of the true top-k, so near-ties may swap)."""
    data, queries = clustered(2000, 32), clustered(50, 32, seed=1)
    config = IndexConfig(backend="faiss", num_neighbors=7)
    with caplog.at_level(logging.WARNING):
        FaissIndex.warn_about(2000, config)  # said when the run is planned, before any feature is computed
    assert "the faiss index will be an exact flat one" in caplog.text
    index = build(data, config)
    assert index.settings()["kind"] == "flat"
    found = index.search(queries).numpy()  # (50, 7)
    truth, scores = brute_force(data, queries, 7)
    np.testing.assert_allclose(np.take_along_axis(scores, found, 1), np.take_along_axis(scores, truth, 1), atol=1e-5)
    assert (np.sort(found, 1) == np.sort(truth, 1)).mean() > 0.99


def test_tied_rows_come_back_by_row_id():
    """Rows 0, 100, 200, ... are one row repeated: its copies score the same and come back ascending."""
    data = clustered(8000, 32)
    data[::100] = data[0]
    index = build(data, faiss_config(num_neighbors=20, num_leaves=64, reorder_precision="int8"))
    assert index.search(data[:1])[0].tolist() == list(range(0, 2000, 100))


@pytest.mark.parametrize("precision", ["float32", "int8"])
@pytest.mark.parametrize("build_way", ["in-memory", "streamed"])
def test_two_builds_over_tied_rows_search_the_same(precision, build_way):
    """Seeded k-means: the same rows (with duplicates, as in patch memories) give the same index."""
    generator = torch.Generator().manual_seed(0)
    distinct = torch.nn.functional.normalize(torch.randn(1000, 32, generator=generator), dim=1)
    data = distinct[torch.randint(0, 1000, (10_000,), generator=generator)]  # (10000, 32), with ties
    config = faiss_config(num_neighbors=30, num_leaves=64, num_leaves_to_search=8, reorder_precision=precision)
    config = replace(config, build=build_way, training_sample=3000)
    assert torch.equal(build(data, config).search(data[:500]), build(data, config).search(data[:500]))


@pytest.mark.parametrize(
    "fields", [dict(num_leaves=512), dict(reorder_precision="float32"), dict(reorder_precision="int8")]
)
def test_a_saved_folder_searches_the_same(memory, tmp_path, fields):
    data, queries = memory
    config = faiss_config(**fields)
    index = build(data, config)
    save_index(index, tmp_path / "index", config, "mem")
    loaded, meta = load_index(tmp_path / "index", features=data)
    assert meta["size"] == 20_000 and meta["settings"]["kind"] == index.settings()["kind"]
    assert torch.equal(loaded.search(queries), index.search(queries))


def test_a_folder_built_from_a_tensor_file_re_ranks_against_the_mapped_rows(memory, tmp_path):
    """The scripts' way: streamed from the memory's file, then loaded with its rows mapped from it."""
    from fungi_hb.index import build_index_folder
    from fungi_hb.storage.matrix_file import open_matrix, write_matrix

    data, queries = memory
    write_matrix(tmp_path / "features.pth", 20_000, 64, torch.float32, data.split(3000))
    config = faiss_config(build="streamed", reorder_precision="int8", chunk_rows=3000)
    build_index_folder(tmp_path / "features.pth", tmp_path / "index", config, "mem", torch.device("cpu"))
    loaded, meta = load_index(tmp_path / "index", features=open_matrix(tmp_path / "features.pth"))
    assert meta["settings"]["kind"] == "ivf-sq8" and meta["settings"]["training_sample"] == 5000
    assert torch.equal(loaded.search(queries), build(data, config).search(queries))


def test_a_folder_that_does_not_match_its_metadata_or_lacks_its_rows_is_refused(memory, tmp_path):
    data, _ = memory
    config = faiss_config(reorder_precision="int8")
    save_index(build(data, config), tmp_path / "index", config, "mem")
    with pytest.raises(UserError, match="re-ranks against its memory"):
        load_index(tmp_path / "index")
    meta_path = tmp_path / "index" / "fungi_index.json"
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "size": 19_999}))
    with pytest.raises(UserError, match="holds 20000 rows x 64, the metadata says 19999 x 64"):
        load_index(tmp_path / "index", features=data)


def test_a_short_result_is_refused_never_padded(memory):
    """One list of ~156 rows searched for 400 neighbours: faiss pads with -1, which search refuses."""
    data, queries = memory
    index = build(data, faiss_config(num_neighbors=400, num_leaves_to_search=1))
    with pytest.raises(UserError, match="fewer than 400 neighbours .* `index.num_leaves_to_search`"):
        index.search(queries[:20])


def test_the_ram_plan_takes_int8_codes_when_float32_lists_do_not_fit(monkeypatch, caplog):
    from fungi_hb.index import plan

    config = IndexConfig(backend="faiss", num_neighbors=30)
    rows, dim = 2_000_000, 768
    candidates = plan._candidates(config)
    assert [(c.build, c.reorder_precision) for c in candidates] == [
        ("in-memory", "float32"),
        ("streamed", "float32"),
        ("streamed", "int8"),
    ]
    needs = [FaissIndex.host_bytes(rows, dim, c) for c in candidates]
    assert needs[0] > needs[1] > needs[2] > rows * dim  # int8 codes: a quarter of the float32 rows, and more
    monkeypatch.setattr(plan, "process_rss_bytes", lambda: 0)
    monkeypatch.setattr(plan, "available_ram_bytes", lambda: plan.WORKING_MARGIN + needs[0])
    published = plan.plan_index(config, rows, dim, "support")
    assert (published.build, published.reorder_precision) == ("in-memory", "float32")
    monkeypatch.setattr(plan, "available_ram_bytes", lambda: plan.WORKING_MARGIN + needs[2])
    with caplog.at_level(logging.WARNING):
        lean = plan.plan_index(config, rows, dim, "support")
    assert (lean.build, lean.reorder_precision) == ("streamed", "int8")
    assert "faiss index built streamed, int8 codes" in caplog.text


def test_bfloat16_which_faiss_does_not_keep_becomes_int8(caplog):
    from fungi_hb.index.plan import plan_index

    with caplog.at_level(logging.WARNING):
        config = plan_index(IndexConfig(backend="faiss", reorder_precision="bfloat16"), 100_000, 64, "x")
    assert config.reorder_precision == "int8"
    assert "not one the faiss index keeps (float32 or int8 codes): using int8" in caplog.text


def test_missing_faiss_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss now raises ImportError
    with pytest.raises(UserError, match=r"pip install faiss-cpu.*`index.backend` exact or scann"):
        resolve_backend("faiss", 1000)
    with pytest.raises(UserError, match="faiss is not importable"):
        FaissIndex.build(TensorSource(clustered(100, 8)), faiss_config(), torch.device("cpu"))
    assert resolve_backend("exact") == "exact"


def test_a_cuda_device_without_faiss_gpus_searches_on_the_cpu():
    """faiss-cpu has no GPUs: the index stays on the CPU (the GPU path needs faiss-gpu and a GPU)."""
    if faiss.get_num_gpus() > 0:
        pytest.skip("faiss has GPUs here")
    data = clustered(2000, 16)
    config = faiss_config(build="in-memory", reorder_precision="float32")
    index = FaissIndex.build(TensorSource(data), config, torch.device("cuda"))
    assert index.searcher is index.index and index.search(data[:3])[:, 0].tolist() == [0, 1, 2]
