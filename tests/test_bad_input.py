"""Every bad input stops early with exit status 2 and a message that names the problem and the fix."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import timm
import torch

from conftest import ROOT, bank_args, eval_args
from fungi_hb.cli import create_memory_bank, eval_gradients
from fungi_hb.data.synthetic import make_synthetic_dataset


@pytest.fixture()
def voc(tmp_path):
    return make_synthetic_dataset(tmp_path / "voc", num_train=4, num_val=2, size=(48, 64))


def run_bank(args, caplog) -> str:
    assert create_memory_bank.main(args) == 2
    return caplog.text


def replace_flag(args, flag, value):
    args = list(args)
    args[args.index(flag) + 1] = value
    return args


def test_missing_dataset_folder(tmp_path, caplog):
    assert "does not exist" in run_bank(bank_args(tmp_path / "nowhere", tmp_path / "out"), caplog)
    assert not (tmp_path / "out" / "features.pth").exists()


def test_missing_split_file(voc, tmp_path, caplog):
    (voc / "sets" / "trainaug.txt").unlink()
    assert "train split file" in run_bank(bank_args(voc, tmp_path / "out"), caplog)


def test_id_without_image(voc, tmp_path, caplog):
    (voc / "images" / "2007_000002.jpg").unlink()
    assert "lack an image or a mask" in run_bank(bank_args(voc, tmp_path / "out"), caplog)


def test_unreadable_image(voc, tmp_path, caplog):
    (voc / "SegmentationClassAug" / "2007_000002.png").write_bytes(b"\x89PNG broken")
    assert "cannot be decoded" in run_bank(bank_args(voc, tmp_path / "out"), caplog)


@pytest.mark.parametrize("size, message", [("3", "0 patches per image"), ("1000", "only 16")])
def test_memory_size_out_of_range(voc, tmp_path, caplog, size, message):
    text = run_bank(bank_args(voc, tmp_path / "out", "--memory-size", size), caplog)
    assert message in text and "--memory-size" in text
    assert not (tmp_path / "out" / "features.pth").exists()


def test_unknown_model(voc, tmp_path, caplog):
    assert "Unknown --model" in run_bank(replace_flag(bank_args(voc, tmp_path), "--model", "dino_vitq16"), caplog)


def test_weights_missing_or_unfit(voc, tmp_path, caplog):
    assert "does not exist" in run_bank(
        replace_flag(bank_args(voc, tmp_path), "--weights", str(tmp_path / "w.pth")), caplog
    )
    torch.save(timm.create_model("vit_small_patch16_224", num_classes=0).state_dict(), tmp_path / "small.pth")
    text = run_bank(replace_flag(bank_args(voc, tmp_path), "--weights", str(tmp_path / "small.pth")), caplog)
    assert "do not fit this architecture" in text


def test_input_size_not_a_multiple_of_patch(voc, tmp_path, caplog):
    assert "not a multiple" in run_bank(replace_flag(bank_args(voc, tmp_path), "--input-size", "70"), caplog)


def test_output_folder_not_writable(voc, tmp_path, caplog):
    (tmp_path / "file").write_text("a file where a folder should be")
    args = replace_flag(bank_args(voc, tmp_path), "--memory-bank", str(tmp_path / "file" / "features.pth"))
    assert "Cannot write" in run_bank(args, caplog)


def run_eval(args, caplog) -> str:
    assert eval_gradients.main(args) == 2
    return caplog.text


def test_support_from_another_backbone(voc, support_index, tmp_path, caplog):
    args = replace_flag(eval_args(voc, support_index), "--model", "vit_small_patch16_224")
    text = run_eval(args, caplog)
    assert "384" in text and "192" in text and "same --model" in text


def test_support_at_another_input_size(voc, support_index, caplog):
    text = run_eval(replace_flag(eval_args(voc, support_index), "--input-size", "32"), caplog)
    assert "input_size (--input-size): 64 there, 32 now" in text


def test_support_with_another_image_std_or_seed(voc, support_index, caplog):
    text = run_eval(eval_args(voc, support_index, "--image-std", "0.229", "0.224", "0.225"), caplog)
    assert "image_std (--image-std): [0.229, 0.224, 0.255] there, [0.229, 0.224, 0.225] now" in text
    text = run_eval(eval_args(voc, support_index, "--seed", "41"), caplog)
    assert "seed (--seed): 42 there, 41 now" in text


def test_index_built_from_another_memory(voc, support_index, tmp_path, caplog):
    other = tmp_path / "other"
    assert create_memory_bank.main(bank_args(voc, other)) == 0
    shutil.copytree(support_index / "index", tmp_path / "mixed_index")
    args = replace_flag(eval_args(voc, other), "--scann-index", str(tmp_path / "mixed_index"))
    assert "was not built from" in run_eval(args, caplog)


def test_eval_memory_with_other_settings(voc, support_index, tmp_path, caplog):
    saved = tmp_path / "em"
    assert (
        eval_gradients.main(eval_args(voc, support_index, "--features", "embeddings", "--save-eval-memory", str(saved)))
        == 0
    )
    text = run_eval(
        eval_args(
            voc,
            support_index,
            "--features",
            "embeddings",
            "--load-eval-memory",
            str(saved),
            "--augmentation-epochs",
            "2",
        ),
        caplog,
    )
    assert "augmentation_epochs (--augmentation-epochs): 1 there, 2 now" in text


def test_empty_validation_split(voc, support_index, caplog):
    (voc / "sets" / "val.txt").write_text("\n")
    assert "lists no images" in run_eval(eval_args(voc, support_index), caplog)


def test_wrong_layer_path(voc, support_index, caplog):
    text = run_eval(
        replace_flag(eval_args(voc, support_index), "--gradients-layer", "backbone.blocks.12.attn.proj"), caplog
    )
    assert "closest Linear layers" in text and "backbone.blocks.1" in text and "--gradients-layer" in text


def test_fungi_without_support(voc, tmp_path, caplog):
    args = replace_flag(eval_args(voc, tmp_path), "--memory-bank", str(tmp_path / "none.pth"))
    assert "create_memory_bank.py" in run_eval(args, caplog)


def test_a_memory_too_small_for_scann_falls_back_to_the_exact_index(voc, tmp_path, caplog):
    args = bank_args(voc, tmp_path, "--num-train-samples", "1", "--memory-size", "12", "--index-backend", "scann")
    assert create_memory_bank.main(args) == 0
    assert "too small for ScaNN" in caplog.text
    assert json.loads((tmp_path / "index" / "fungi_index.json").read_text())["backend"] == "exact"


def test_non_finite_weights_are_refused_before_extraction(voc, tmp_path, caplog):
    state = timm.create_model("vit_tiny_patch16_224", num_classes=0).state_dict()
    state["blocks.3.mlp.fc1.weight"][0, 0] = float("nan")
    torch.save(state, tmp_path / "nan.pth")
    text = run_bank(replace_flag(bank_args(voc, tmp_path), "--weights", str(tmp_path / "nan.pth")), caplog)
    assert "NaN or infinite" in text and "blocks.3.mlp.fc1.weight" in text


def test_absurd_input_size(voc, tmp_path, caplog):
    assert "beyond 4096 px" in run_bank(replace_flag(bank_args(voc, tmp_path), "--input-size", "160000"), caplog)


def test_bad_input_creates_no_output_folder(tmp_path, caplog):
    out = tmp_path / "new" / "deeper"
    assert "does not exist" in run_bank(bank_args(tmp_path / "nowhere", out), caplog)
    assert not (tmp_path / "new").exists()


def test_leftovers_of_a_killed_run_are_removed(voc, tmp_path):
    leftovers = [
        tmp_path / ".features.pth.tmp-1234abcd",
        tmp_path / ".index.tmp-99",
        tmp_path / ".index.old-5",
        tmp_path / "..labels.pth.staged-abc.tmp-7",
    ]
    for path in leftovers:
        path.mkdir() if "index" in path.name else path.write_bytes(b"half a file")
    assert create_memory_bank.main(bank_args(voc, tmp_path)) == 0
    assert not any(path.exists() for path in leftovers)


def test_a_full_disk_ends_in_one_line_and_keeps_the_old_bank(voc, tmp_path, caplog, monkeypatch):
    assert create_memory_bank.main(bank_args(voc, tmp_path)) == 0

    def files():
        kept = [p for p in tmp_path.rglob("*") if p.is_file() and ".fungi" not in str(p) and p.suffix != ".log"]
        return {p: p.stat().st_mtime_ns for p in kept}

    before = files()
    real_save = torch.save

    def full_disk(obj, path, *args, **kwargs):
        if "labels" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_disk)
    assert create_memory_bank.main(bank_args(voc, tmp_path, "--seed", "7")) == 2
    assert "No space left on device" in caplog.text and "Traceback" not in caplog.text
    assert f"(while writing {tmp_path / 'labels.pth'})" in caplog.text  # not the hidden staged name
    assert files() == before  # the old bank, untouched
    assert not [p for p in tmp_path.iterdir() if ".staged-" in p.name or ".tmp-" in p.name]


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["startup", "extraction"])
def test_ctrl_c_gives_one_line_and_exit_130(tmp_path, moment):
    """Ctrl-C while torch loads, or while two loader workers are busy: exit 130, one line, no traceback."""
    data = make_synthetic_dataset(tmp_path / "voc", num_train=200, num_val=2, size=(96, 128))
    args = [*bank_args(data, tmp_path / "out"), "--batch-size", "2", "--piece-images", "2"]
    args[args.index("--num-workers") + 1] = "2"
    process = subprocess.Popen(
        [sys.executable, "create_memory_bank.py", *args], cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    seen = ""
    if moment == "startup":
        time.sleep(0.3)
    else:
        while "img/s" not in seen and process.poll() is None:
            seen += process.stderr.read(1)
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    assert process.returncode == 130, seen + rest
    assert "Traceback" not in seen + rest and "Interrupted" in rest


def test_a_failed_torch_save_is_a_file_error(tmp_path, monkeypatch):
    from fungi_hb.storage.torch_files import save_tensor

    def full(obj, path, *args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 768 vs 662")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(OSError, match="is the disk full") as err:
        save_tensor(torch.zeros(3), tmp_path / "x.pth")
    assert err.value.errno == errno.EIO and err.value.filename.endswith(".tmp-" + err.value.filename[-8:])
    assert not list(tmp_path.iterdir())


def test_running_out_of_memory_is_one_line(voc, support_index, tmp_path, caplog):
    text = run_eval(eval_args(voc, support_index, "--latent-dim", str(10**12)), caplog)
    assert "Ran out of memory" in text and "Traceback" not in text


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--memory-bank-labels", "{out}/features.pth"], "--memory-bank-labels"),
        (["--scann-index", "{out}"], "--scann-index"),
    ],
)
def test_bank_outputs_must_not_overlap(voc, tmp_path, caplog, extra, message):
    args = bank_args(voc, tmp_path)
    for flag, value in zip(extra[::2], extra[1::2]):
        args = replace_flag(args, flag, value.format(out=tmp_path))
    text = run_bank(args, caplog)
    assert "would overwrite or sit inside" in text and message in text
    assert not (tmp_path / "features.pth").exists()


@pytest.mark.parametrize(
    "flag, where", [("--output", "features.pth"), ("--save-eval-memory", ""), ("--output", "index/r")]
)
def test_evaluation_outputs_must_not_overwrite_the_support_bank(voc, support_index, tmp_path, caplog, flag, where):
    before = (support_index / "features.pth").stat().st_mtime_ns
    text = run_eval(eval_args(voc, support_index, flag, str(support_index / where)), caplog)
    assert "would overwrite or sit inside the input" in text
    assert (support_index / "features.pth").stat().st_mtime_ns == before


def test_work_dir_that_is_a_file(voc, tmp_path, caplog):
    (tmp_path / "afile").write_text("x")
    text = run_bank([*bank_args(voc, tmp_path / "out"), "--work-dir", str(tmp_path / "afile")], caplog)
    assert "work folder" in text and "is a file" in text and "rerun the same command" not in text


def test_pieces_of_other_runs_are_reported_not_deleted(voc, tmp_path, caplog):
    other = tmp_path / ".fungi-work" / "bank-0123456789abcdef"
    other.mkdir(parents=True)
    (other / "e000-000000-000004.pth").write_bytes(b"x" * 1000)
    assert create_memory_bank.main(bank_args(voc, tmp_path)) == 0
    assert "still holds the pieces of 1 other runs" in caplog.text and other.exists()


def test_a_damaged_piece_is_redone_and_the_bank_equals_an_uninterrupted_one(tmp_path, caplog, monkeypatch):
    from fungi_hb.runs.store import PieceStore

    data = make_synthetic_dataset(tmp_path / "voc", num_train=8, num_val=2, size=(48, 64))
    args = [*bank_args(data, tmp_path / "out"), "--batch-size", "2", "--piece-images", "2"]
    real_save, saved = PieceStore.save, []

    def save_then_stop(store, piece, tensors):
        real_save(store, piece, tensors)
        saved.append(store.path(piece))
        if len(saved) == 2:
            raise KeyboardInterrupt  # Ctrl-C once two pieces are on disk

    monkeypatch.setattr(PieceStore, "save", save_then_stop)
    assert create_memory_bank.main(args) == 130
    monkeypatch.setattr(PieceStore, "save", real_save)
    damaged = bytearray(saved[0].read_bytes())
    middle = len(damaged) // 2
    damaged[middle : middle + 64] = bytes(b ^ 0xFF for b in damaged[middle : middle + 64])
    saved[0].write_bytes(bytes(damaged))
    caplog.clear()
    assert create_memory_bank.main(args) == 0
    assert "Redoing a piece" in caplog.text and "reusing 1 finished piece of" in caplog.text
    assert (
        create_memory_bank.main([*bank_args(data, tmp_path / "ref"), "--batch-size", "2", "--piece-images", "2"]) == 0
    )
    assert torch.equal(torch.load(tmp_path / "out" / "features.pth"), torch.load(tmp_path / "ref" / "features.pth"))


def test_a_second_run_on_the_same_outputs_is_refused_in_one_line(voc, tmp_path, caplog):
    from contextlib import ExitStack

    from fungi_hb.runs import lock

    out = tmp_path / "out"
    with ExitStack() as first:  # another run holds the bank
        lock.hold(first, {"the memory bank": out / "features.pth"})
        message = run_bank(bank_args(voc, out), caplog)
    assert f"Another run is writing the memory bank {out / 'features.pth'} (process {os.getpid()}" in message
    assert "Traceback" not in message and not (out / "features.pth").exists()
    assert create_memory_bank.main(bank_args(voc, out)) == 0  # once it has ended


def test_a_writer_refuses_a_foreign_journal_before_its_long_part(voc, tmp_path, caplog):
    out = tmp_path / "out"
    out.mkdir()
    journal = {"format": "fungi-hb journal 2", "token": "0123456789ab", "parts": [str(tmp_path / "victim")]}
    (out / "features.commit.json").write_text(json.dumps(journal))
    message = run_bank(bank_args(voc, out), caplog)
    assert "names " + str(tmp_path / "victim") + ", which is not a part of what this run writes" in message
    assert "Traceback" not in message and "features took" not in message  # refused before extraction


def test_every_part_of_a_bank_is_locked(voc, tmp_path, caplog):
    from contextlib import ExitStack

    from fungi_hb.runs import lock

    with ExitStack() as other:  # another run writes its labels where this run would
        lock.hold(other, {"the labels": tmp_path / "labels.pth"})
        message = run_bank(bank_args(voc, tmp_path), caplog)
    assert f"Another run is writing the memory bank {tmp_path / 'labels.pth'}" in message
