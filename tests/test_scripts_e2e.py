"""Both scripts end to end on a synthetic dataset with a small random backbone, on the CPU."""

import json
import logging
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import bank_args, eval_args
from fungi_hb.cli import create_memory_bank, eval_gradients
from fungi_hb.evaluation.figure import GAP, MIN_SIDE, TITLE
from fungi_hb.index import load_index
from fungi_hb.memory.files import BankPaths, bank_transaction, read_bank, write_sidecar

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("memory_size", [None, 240])
def test_memory_bank_outputs(synthetic_voc, tmp_path, memory_size):
    extra = [] if memory_size is None else ["--memory-size", str(memory_size), "--augmentation-epochs", "2"]
    assert create_memory_bank.main(bank_args(synthetic_voc, tmp_path, *extra)) == 0
    features, labels = torch.load(tmp_path / "features.pth"), torch.load(tmp_path / "labels.pth")
    rows = 24 * 16 if memory_size is None else 24 * 2 * (240 // 48)
    assert features.shape == (rows, 192) and labels.shape == (rows, 21)
    assert features.dtype == torch.float32 and labels.dtype == torch.float32
    torch.testing.assert_close(features.norm(dim=1), torch.ones(rows))
    torch.testing.assert_close(labels.sum(dim=1), torch.ones(rows))
    meta = json.loads((tmp_path / "features.meta.json").read_text())
    features_identity = meta["identity"]["features"]
    assert meta["rows"] == rows and meta["dim"] == 192 and features_identity["model"] == "vit_tiny_patch16_224"
    assert features_identity["weights"].startswith("random") and meta["identity"]["memory_size"] == memory_size
    assert meta["info"]["provenance"]["argv"] and meta["info"]["environment"]["torch"] == torch.__version__
    shutil.move(tmp_path / "index", tmp_path / "moved")
    index, index_meta = load_index(tmp_path / "moved")
    assert index_meta["memory_id"] == meta["memory_id"] and index_meta["size"] == rows
    top1 = index.search(features[:40])[:, 0]
    found_itself = (features[top1] * features[:40]).sum(1) > 0.9999  # itself or an identical patch
    assert found_itself.sum() >= 36  # approximate search: almost always
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]  # no temporary leftovers


def test_scann_neighbours_of_a_real_memory_agree_with_exact(synthetic_voc, tmp_path):
    """A few thousand rows of real (random-ViT) patch features: ScaNN recall@5 against brute force."""
    args = bank_args(synthetic_voc, tmp_path, "--augmentation-epochs", "8")
    args[args.index("--num-leaves") + 1] = "64"
    args[args.index("--num-leaves-to-search") + 1] = "16"
    assert create_memory_bank.main(args) == 0
    features = torch.load(tmp_path / "features.pth")  # (3072, 192)
    assert features.shape[0] == 24 * 8 * 16
    index, _ = load_index(tmp_path / "index")
    queries = features[::10] + 0.01 * torch.randn(features[::10].shape)
    found = index.search(queries).numpy()
    exact = torch.topk(queries @ features.T, 5).indices.numpy()
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(found, exact)])
    assert recall >= 0.9


def test_embeddings_evaluation_beats_shuffled_labels(synthetic_voc, tmp_path, caplog, capsys):
    caplog.set_level(logging.INFO)
    memory_dir = tmp_path / "eval_memory"
    args = eval_args(
        synthetic_voc,
        tmp_path,
        "--features",
        "embeddings",
        "--output",
        str(tmp_path / "res.json"),
        "--save-eval-memory",
        str(memory_dir),
    )
    assert eval_gradients.main(args) == 0
    results = json.loads((tmp_path / "res.json").read_text())
    for key in (
        "miou",
        "miou_percent",
        "per_class_iou",
        "tp",
        "fp",
        "fn",
        "pixels",
        "settings",
        "backbone",
        "environment",
        "seconds",
        "num_val_images",
        "memory_rows",
    ):
        assert key in results
    assert set(results["per_class_iou"]) >= {"background", "aeroplane", "tvmonitor"}
    assert results["backbone"]["weights_source"].startswith("random")
    assert results["num_val_images"] == 8 and results["memory_rows"] == 24 * 16
    assert f"mIoU: {results['miou_percent']:.2f}%" in caplog.text
    made = results["provenance"]  # where the number came from
    assert made["argv"] and made["host"] and made["started"] <= made["finished"]
    assert set(made) >= {"git_commit", "git_dirty", "cwd"}
    assert (tmp_path / "res.log").read_text().count("Results written to") == 1  # the log beside the results
    printed = capsys.readouterr().out  # the score also reaches stdout, for `> file`
    assert printed.startswith(f"mIoU {results['miou_percent']:.2f}% (embeddings features, voc, 8 validation images")
    assert f"results: {tmp_path / 'res.json'}" in printed
    present = results["present_classes"]
    assert present and set(present) <= set(results["class_names"])
    expected = 100 * sum(results["per_class_iou"][name] for name in present) / len(present)
    assert results["miou_present_percent"] == pytest.approx(expected, abs=0.006)

    # the same evaluation memory with its label rows shuffled (and committed again, or it would be refused
    # as tampered with): patches and labels no longer line up
    shuffled = tmp_path / "shuffled"
    shutil.copytree(memory_dir, shuffled)
    paths = BankPaths.in_folder(shuffled)
    labels = torch.load(paths.labels)
    meta = read_bank(paths, "", allow_published=False)
    with bank_transaction(paths) as staged:
        torch.save(labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))], staged["labels"])
        shutil.copy(paths.features, staged["features"])
        write_sidecar(paths, staged, meta)
    args = eval_args(
        synthetic_voc,
        tmp_path,
        "--features",
        "embeddings",
        "--output",
        str(tmp_path / "shuf.json"),
        "--load-eval-memory",
        str(shuffled),
    )
    assert eval_gradients.main(args) == 0
    baseline = json.loads((tmp_path / "shuf.json").read_text())
    assert results["miou"] > baseline["miou"] + 0.05, (results["miou"], baseline["miou"])


def test_support_and_evaluation_memories_draw_independent_augmentations(synthetic_voc, support_index, tmp_path):
    """Same seed, same images, raw features in both: the evaluation memory's rows are not copies of the
    support bank's (as in the published code, the two passes are separate draws)."""
    saved = tmp_path / "em"
    args = eval_args(synthetic_voc, support_index, "--features", "embeddings", "--save-eval-memory", str(saved))
    assert eval_gradients.main([*args, "--output", str(tmp_path / "r.json"), "--index-backend", "exact"]) == 0
    support, memory = torch.load(support_index / "features.pth"), torch.load(saved / "features.pth")
    assert support.shape == memory.shape
    own_copy = (memory @ support.T).max(dim=1).values > 0.9999  # (M,)
    assert own_copy.float().mean() < 0.2
    results = json.loads((tmp_path / "r.json").read_text())
    assert (
        results["memory_identity"]["stage"] == "eval"
        and "jitter whole image" in results["memory_identity"]["augmentation"]
    )


def test_keys_as_raw_features(synthetic_voc, support_index, tmp_path):
    out = tmp_path / "keys.json"
    args = eval_args(synthetic_voc, support_index, "--features", "embeddings", "--embeddings-source", "keys")
    assert eval_gradients.main([*args, "--output", str(out), "--index-backend", "exact"]) == 0
    results = json.loads(out.read_text())
    assert results["feature_identity"]["source"] == "keys" and results["settings"]["embeddings_source"] == "keys"


def test_fungi_evaluation_end_to_end(synthetic_voc, support_index, tmp_path):
    # the exact evaluation backend is deterministic (ScaNN's index training is not, across processes)
    out = tmp_path / "fungi.json"
    args = eval_args(
        synthetic_voc,
        support_index,
        "--output",
        str(out),
        "--negative-batch-percent",
        "0.5",
        "--save-projection-matrix",
        str(tmp_path / "r.pth"),
        "--index-backend",
        "exact",
    )
    assert eval_gradients.main([*args, "--save-predictions", str(tmp_path / "pictures"), "--num-predictions", "3"]) == 0
    results = json.loads(out.read_text())
    assert results["features"] == "fungi" and results["negatives_layout"] == "published"
    pictures = sorted((tmp_path / "pictures").glob("*.png"))
    assert [p.stem for p in pictures] == ["2008_000000", "2008_000001", "2008_000002"]
    width, height = Image.open(pictures[0]).size  # 64 px panels enlarged to MIN_SIDE, titles, a key
    assert width == 3 * MIN_SIDE + 2 * GAP and height > TITLE + MIN_SIDE
    assert (tmp_path / "pictures" / "index.html").read_text().count("<img ") == 3
    assert results["memory_dim"] == 2 * 192 and results["num_negatives"] == 2
    assert results["feature_identity"]["fungi"]["num_negatives"] == 2
    assert results["memory_identity"]["features"]["kind"] == "fungi"
    assert torch.load(tmp_path / "r.pth").shape == (192, 192 * 193)
    # reusing the saved projection reproduces the run exactly
    args2 = eval_args(
        synthetic_voc,
        support_index,
        "--output",
        str(tmp_path / "again.json"),
        "--negative-batch-percent",
        "0.5",
        "--projection-matrix",
        str(tmp_path / "r.pth"),
        "--index-backend",
        "exact",
    )
    assert eval_gradients.main(args2) == 0
    assert json.loads((tmp_path / "again.json").read_text())["miou"] == results["miou"]


def test_true_neighbour_layout_and_exact_backend(synthetic_voc, support_index, tmp_path):
    out = tmp_path / "true.json"
    args = eval_args(
        synthetic_voc,
        support_index,
        "--output",
        str(out),
        "--negatives-layout",
        "true",
        "--index-backend",
        "exact",
        "--n-neighbors",
        "30",
        "--memory-size",
        "192",
    )
    assert eval_gradients.main(args) == 0
    results = json.loads(out.read_text())
    assert results["negatives_layout"] == "true" and results["num_negatives"] == 5  # capped at the index's k
    assert results["memory_rows"] == 192


def test_a_failed_run_leaves_no_file_behind(synthetic_voc, tmp_path, monkeypatch):
    from fungi_hb.jobs import memory_bank
    from fungi_hb.storage import atomic

    def broken(*args, **kwargs):
        raise RuntimeError("index build failed")

    monkeypatch.setattr(memory_bank, "build_index_folder", broken)
    with pytest.raises(RuntimeError):
        create_memory_bank.main(bank_args(synthetic_voc, tmp_path))
    assert not (tmp_path / "features.pth").exists() and not (tmp_path / "features.meta.json").exists()

    with pytest.raises(ValueError):
        with atomic.atomic_path(tmp_path / "x.pth") as tmp:
            tmp.write_text("half")
            raise ValueError
    assert not list(tmp_path.glob("*x.pth*"))


def test_support_index_of_the_published_code_loads(synthetic_voc, support_index, tmp_path, caplog):
    """A bank from the published code: plain tensors and a ScaNN folder, no metadata: sizes are checked,
    the index is asked how many neighbours it returns, and the run goes through."""
    published = tmp_path / "published"
    shutil.copytree(support_index, published)
    (published / "features.meta.json").unlink()
    (published / "index" / "fungi_index.json").unlink()
    caplog.set_level(logging.INFO)
    out = tmp_path / "r.json"
    assert eval_gradients.main(eval_args(synthetic_voc, published, "--n-neighbors", "30", "--output", str(out))) == 0
    assert "taken for a bank of the published code" in caplog.text
    results = json.loads(out.read_text())
    assert results["num_negatives"] == 5 and results["support_bank"] == "the published code (no metadata)"


def test_streamed_memories_give_the_in_memory_result(synthetic_voc, tmp_path):
    """Support bank and evaluation memory through the streamed path (exact search over the memory files in
    chunks of 50 rows) against the in-memory path: the same mIoU."""
    results = {}
    for build in ("in-memory", "streamed"):
        out = tmp_path / build
        flags = ["--index-backend", "exact", "--index-build", build, "--index-chunk-rows", "50"]
        assert create_memory_bank.main(bank_args(synthetic_voc, out / "support", *flags)) == 0
        args = eval_args(synthetic_voc, out / "support", *flags, "--output", str(out / "r.json"))
        assert eval_gradients.main(args) == 0
        results[build] = json.loads((out / "r.json").read_text())
    assert results["streamed"]["index"]["config"]["build"] == "streamed"
    assert results["streamed"]["miou"] == results["in-memory"]["miou"]
    assert results["streamed"]["tp"] == results["in-memory"]["tp"]
