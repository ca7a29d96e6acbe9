"""Messages that cannot mislead: damaged index folders called damaged, checkpoints of the wrong layout named as
such, a bad support row named, absurd memories and planted journals refused at once, notes said once, and
the cache's place documented where it is made."""

import json
import logging
import shutil

import pytest
import torch

from conftest import bank_args, eval_args
from fungi_hb.cli import create_memory_bank, eval_gradients
from fungi_hb.data.synthetic import make_synthetic_dataset


@pytest.fixture()
def voc(tmp_path):
    return make_synthetic_dataset(tmp_path / "voc", num_train=4, num_val=2, size=(48, 64))


@pytest.fixture()
def support(voc, tmp_path):
    out = tmp_path / "support"
    assert create_memory_bank.main(bank_args(voc, out)) == 0
    return out


@pytest.mark.parametrize("damage", ["empty", "no metadata", "corrupt metadata"])
def test_a_damaged_index_folder_is_called_damaged_not_foreign(voc, support, caplog, damage):
    index = support / "index"
    if damage == "empty":
        shutil.rmtree(index)
        index.mkdir()
    elif damage == "no metadata":
        (index / "fungi_index.json").unlink()
    else:
        (index / "fungi_index.json").write_text("{not json")
    assert eval_gradients.main(eval_args(voc, support)) == 2
    assert "incomplete or damaged" in caplog.text and "belongs to another bank" not in caplog.text
    assert "Rebuild the support index with create_memory_bank.py" in caplog.text


def test_a_nan_row_of_a_published_support_bank_is_named(voc, tmp_path, caplog):
    published = tmp_path / "published"  # the published code's banks: ScaNN folders, no metadata of ours
    assert create_memory_bank.main([*bank_args(voc, published), "--index-backend", "scann"]) == 0
    (published / "features.meta.json").unlink()
    (published / "index" / "fungi_index.json").unlink()
    features = torch.load(published / "features.pth")
    features[3] = float("nan")
    torch.save(features, published / "features.pth")
    assert eval_gradients.main(eval_args(voc, published)) == 2
    assert f"The support memory {published / 'features.pth'} holds NaN or infinite values in row" in caplog.text
    assert "check --weights" not in caplog.text


def test_an_absurd_memory_is_refused_before_anything_long(voc, support, caplog):
    args = eval_args(voc, support, "--features", "embeddings", "--augmentation-epochs", "50000000")
    assert eval_gradients.main(args) == 2
    assert "needs about" in caplog.text and "GiB of disk" in caplog.text and "--augmentation-epochs" in caplog.text
    assert "memory took" not in caplog.text


def test_a_planted_huge_journal_is_refused_at_once(voc, tmp_path, caplog):
    out = tmp_path / "out"
    out.mkdir()
    names = [f"part{i}" for i in range(20000)]
    (out / "features.commit.json").write_text(json.dumps({"format": "fungi-hb journal 2", "parts": names}))
    assert create_memory_bank.main(bank_args(voc, out)) == 2
    assert "is damaged (it holds" in caplog.text and "a journal of this tool holds a few hundred" in caplog.text


def test_notes_are_said_once_and_small_scann_memories_are_warned_about(voc, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    args = bank_args(voc, tmp_path, "--use-fp16", "--index-backend", "scann")
    args[args.index("--num-leaves") + 1] = "8"  # 64 rows in 8 leaves: 8 per leaf
    assert create_memory_bank.main(args) == 0
    assert caplog.text.count("is for CUDA: running in float32 on the CPU") == 1
    assert "WARNING" not in [r.levelname for r in caplog.records if "float32 on the CPU" in r.getMessage()]
    warning = next(r.getMessage() for r in caplog.records if "leaves hold about" in r.getMessage())
    assert "--index-backend exact" in warning and "--num-leaves" in warning
    assert caplog.text.index("leaves hold about") < caplog.text.index("features took")  # before the long part


def test_faiss_says_once_and_up_front_that_a_small_memory_gets_a_flat_index(voc, tmp_path, caplog):
    pytest.importorskip("faiss")
    caplog.set_level(logging.INFO)
    assert create_memory_bank.main(bank_args(voc, tmp_path, "--index-backend", "faiss")) == 0
    assert caplog.text.count("exact flat one") == 1
    assert caplog.text.index("exact flat one") < caplog.text.index("features took")


def test_the_cache_is_named_in_help(capsys):
    with pytest.raises(SystemExit):
        create_memory_bank.build_parser().parse_args(["--help"])
    help_text = capsys.readouterr().out
    assert "FUNGI_HB_CACHE" in help_text and "XDG_CACHE_HOME" in help_text and "FUNGI_HB_CACHE=off" in help_text


def test_the_file_check_cache_can_be_turned_off_or_moved(voc, tmp_path, monkeypatch):
    from fungi_hb.data.checks import check_samples
    from fungi_hb.data.config import DataConfig
    from fungi_hb.data.datasets.registry import open_dataset
    from fungi_hb.data.samples import train_samples

    dataset = open_dataset(voc)
    samples = train_samples(dataset, DataConfig(voc), 0)
    monkeypatch.setenv("FUNGI_HB_CACHE", str(tmp_path / "moved"))
    check_samples(samples, dataset.targets, "training", workers=1)
    assert len(list((tmp_path / "moved" / "checked-files").glob("*.json"))) == 1
    monkeypatch.setenv("FUNGI_HB_CACHE", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    check_samples(samples, dataset.targets, "training", workers=1)
    assert not (tmp_path / "xdg").exists()


def test_dinov2_files_of_another_layout_name_the_layout(tmp_path):
    from official_vits import dinov2_file

    from fungi_hb.errors import UserError
    from fungi_hb.features.backbones import BackboneConfig, build_backbone

    state = dinov2_file(tmp_path / "d2.pth", registers=False)
    state["pos_embed"] = state["pos_embed"][:, 1:]  # 1369 rows, as timm keeps them, under the official names
    torch.save(state, tmp_path / "no_cls.pth")
    with pytest.raises(UserError, match="hold 1369 position embeddings .* the official files hold 1370"):
        build_backbone(BackboneConfig("dinov2_vits14", str(tmp_path / "no_cls.pth"), 56, 14))
    import timm

    torch.save(timm.create_model("vit_small_patch14_reg4_dinov2", num_classes=0).state_dict(), tmp_path / "reg.pth")
    with pytest.raises(UserError, match="a DINOv2 model with registers \\(timm layout\\).*name dinov2_vits14_reg"):
        build_backbone(BackboneConfig("dinov2_vits14", str(tmp_path / "reg.pth"), 56, 14))


def test_a_byte_order_mark_in_classes_txt_is_not_a_class_name(tmp_path):
    from fungi_hb.data.datasets.registry import open_dataset

    root = make_synthetic_dataset(tmp_path / "own", num_train=2, num_val=1, layout="generic", num_classes=3)
    (root / "classes.txt").write_bytes("\ufeffsky\ncar\nroad\n".encode())
    assert open_dataset(root).targets.class_names == ("sky", "car", "road")
