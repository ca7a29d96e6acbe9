"""The shell scripts as users run them: the smoke run and the Table 3 pipeline on tiny settings."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, make_data

pytestmark = pytest.mark.slow


def run_script(args: list[str], **env: str) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHON=sys.executable, **env)
    result = subprocess.run(["bash", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def test_smoke_run(tmp_path):
    result = run_script(["scripts/smoke.sh", str(tmp_path)])
    assert "smoke run OK" in result.stdout
    assert (tmp_path / "results.json").stat().st_size > 0


def test_table3_pipeline_end_to_end_and_rerun_skips(tmp_path):
    """Both rows of a memory-size cell over two seeds (the data-efficient cell runs in the families test)."""
    data = make_data(tmp_path / "data", num_train=8)
    env = dict(
        DATA_DIR=data,
        OUT_DIR=str(tmp_path / "t3"),
        BACKBONES="vit_tiny_patch16_224",
        MEMORY_SIZES="64",
        DATA_EFFICIENT="0",
        SEEDS="1 2",
        IMAGE_SIZE="64",
        WEIGHTS="random",
        NUM_LEAVES="8",  # all leaves searched: a 64-row memory has too few points per leaf for less
        NUM_LEAVES_TO_SEARCH="8",
        NUM_NEIGHBORS="10",
        EXTRA_ARGS="--num-workers 0",
    )
    run_script(["scripts/table3.sh"], **env)
    csv_lines = (tmp_path / "t3" / "table3.csv").read_text().splitlines()
    assert csv_lines[0].startswith("dataset,model,features,") and ",M=64," in csv_lines[0]
    assert [line.split(",")[2] for line in csv_lines[1:]] == ["embeddings", "fungi"]
    assert all(line.endswith(",random") for line in csv_lines[1:])  # the seeds' weights: one column
    assert all(" ± " in line and "(n=2)" in line for line in csv_lines[1:])
    assert "| vit_tiny_patch16_224 | fungi |" in (tmp_path / "t3" / "table3.md").read_text()
    assert (tmp_path / "t3" / "vit_tiny_patch16_224" / "64" / "seed2" / "results_fungi.json").exists()
    rerun = run_script(["scripts/table3.sh"], **env)
    assert rerun.stdout.count("skip ") == 4


@pytest.mark.parametrize(
    "script, env, published",
    [
        ("scripts/reproduce_voc.sh", {"MEMORY_SIZE": "96", "SEEDS": "1 2"}, "46.80%"),
        ("scripts/reproduce_data_efficient.sh", {"TRAIN_SAMPLES": "8", "AUGMENTATION_EPOCHS": "2"}, "27.69%"),
    ],
)
def test_reproduction_scripts_on_tiny_settings(tmp_path, script, env, published):
    """The published experiments' scripts, with the published index settings (clamped on this tiny memory)."""
    data = make_data(tmp_path / "data", num_train=12)
    result = run_script(
        [script],
        DATA_DIR=data,
        OUT_DIR=str(tmp_path / "out"),
        MODEL="vit_tiny_patch16_224",
        WEIGHTS="random",
        IMAGE_SIZE="64",
        EXTRA_ARGS="--num-workers 0",
        **env,
    )
    assert f"{published}" not in result.stdout and "weights: random" in result.stdout  # not beside a random model
    assert "no published figure for this run (the model is vit_tiny_patch16_224" in result.stdout
    assert "the weights are random" in result.stdout
    if "SEEDS" in env:  # one run per seed, each in its own folder, reported as mean ± std
        assert "% ± " in result.stdout and "over 2 seeds" in result.stdout
        assert all((tmp_path / "out" / f"seed{s}" / "results_fungi.json").exists() for s in (1, 2))
    else:
        assert (tmp_path / "out" / "results_fungi.json").exists()


def test_ade20k_table_with_two_processes_and_spaces_in_paths(tmp_path):
    """scripts/ade20k.sh (the table3.sh protocol on ADE20K) under NPROC=2, with the official checkpoint name
    in a WEIGHTS_DIR and an OUT_DIR that both hold a space."""
    from test_backbones import dino_style_checkpoint

    from fungi_hb.data.synthetic import make_synthetic_dataset

    data = make_synthetic_dataset(tmp_path / "ade data", num_train=8, num_val=4, layout="ade20k", size=(48, 64))
    weights = tmp_path / "my weights"
    weights.mkdir()
    dino_style_checkpoint(weights / "dino_deitsmall16_pretrain.pth")
    out = tmp_path / "out dir"
    env = dict(
        DATA_DIR=str(data),
        OUT_DIR=str(out),
        BACKBONES="dino_vits16",
        MEMORY_SIZES="64",
        IMAGE_SIZE="64",
        WEIGHTS_DIR=str(weights),
        NUM_LEAVES="8",  # all leaves searched: a 64-row memory has too few points per leaf for less
        NUM_LEAVES_TO_SEARCH="8",
        NUM_NEIGHBORS="10",
        NPROC="2",
        FEATURES="fungi",
        EXTRA_ARGS="--num-workers 0 --index-backend exact",
    )
    run_script(["scripts/ade20k.sh"], **env)
    csv_lines = (out / "ade20k.csv").read_text().splitlines()
    assert csv_lines[0].startswith("dataset,model,features,") and ",M=64," in csv_lines[0]
    assert [line.split(",")[:3] for line in csv_lines[1:]] == [["ade20k-150", "dino_vits16", "fungi"]]
    assert all(line.endswith("my weights/dino_deitsmall16_pretrain.pth") for line in csv_lines[1:])
    assert csv_lines[0].split(",")[3] == "figure" and csv_lines[1].split(",")[3] == "mIoU (%)"
    results = json.loads((out / "dino_vits16" / "64" / "results_fungi.json").read_text())
    assert results["dataset"] == "ade20k-150" and results["processes"] == 2


def test_table3_takes_any_family_from_a_folder_of_official_files(tmp_path):
    """BACKBONES of DINOv2 with registers (14 px patches: 56 px for IMAGE_SIZE=64) and DINOv3 (a hashed file
    name), both found in WEIGHTS_DIR under their official names."""
    from official_vits import dinov2_file, dinov3_file

    weights = tmp_path / "weights"
    weights.mkdir()
    dinov2_file(weights / "dinov2_vits14_reg4_pretrain.pth", registers=True)
    dinov3_file(weights / "dinov3_vits16_pretrain_lvd1689m-08c60483.pth", biases=False)
    data = make_data(tmp_path / "data", num_train=4)
    env = dict(
        DATA_DIR=data,
        OUT_DIR=str(tmp_path / "t3"),
        BACKBONES="dinov2_vits14_reg dinov3_vits16",
        MEMORY_SIZES="",  # the data-efficient cell only, FUNGI row only
        TRAIN_SAMPLES="3",
        AUGMENTATION_EPOCHS="2",
        EFFICIENT_NUM_NEIGHBORS="20",
        FEATURES="fungi",
        IMAGE_SIZE="64",
        WEIGHTS_DIR=str(weights),
        NUM_NEIGHBORS="10",
        EXTRA_ARGS="--num-workers 0 --index-backend exact",
    )
    result = run_script(["scripts/table3.sh"], **env)
    assert "dinov2_vits14_reg: 56 px" in result.stdout
    header = (tmp_path / "t3" / "table3.csv").read_text().splitlines()[0]
    assert "data-efficient" in header and "M=" not in header
    for model, patch, file in (("dinov2_vits14_reg", 14, "dinov2_vits14_reg4"), ("dinov3_vits16", 16, "dinov3_vits16")):
        results = json.loads((tmp_path / "t3" / model / "efficient" / "results_fungi.json").read_text())
        assert results["num_train_images"] == 3 and results["index"]["config"]["num_neighbors"] == 20
        assert results["settings"]["temperature"] == 0.1
        identity = results["feature_identity"]
        assert identity["patch_size"] == patch and identity["input_size"] == 4 * patch
        assert identity["weights"].startswith(str(weights / file))
        assert identity["fungi"]["gradients_layer"] == "backbone.blocks.11.attn.proj"
    (weights / "dinov3_vits16_pretrain_lvd1689m-00000000.pth").write_bytes(b"")
    shutil.rmtree(tmp_path / "t3")  # refused before the DINOv2 cells run again
    full_env = dict(os.environ, PYTHON=sys.executable, **env)
    twice = subprocess.run(["bash", "scripts/table3.sh"], cwd=ROOT, env=full_env, capture_output=True, text=True)
    assert twice.returncode == 2 and "holds 2 files named dinov3_vits16_pretrain_lvd1689m*.pth" in twice.stderr
    assert not (tmp_path / "t3").exists()


def test_collect_table_refuses_or_skips_what_is_not_a_result(tmp_path):
    missing = subprocess.run(
        [sys.executable, "scripts/collect_table.py", str(tmp_path / "nowhere")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "is not a folder" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "m" / "notasize").mkdir(parents=True)
    (tmp_path / "m" / "notasize" / "results_fungi.json").write_text("{}")
    (tmp_path / "m" / "64").mkdir()
    (tmp_path / "m" / "64" / "results_fungi.json").write_text("{truncated")
    (tmp_path / "m" / "128").mkdir()
    good = {"miou_percent": 12.5, "features": "fungi", "backbone": {"weights_source": "w"}}
    (tmp_path / "m" / "128" / "results_fungi.json").write_text(json.dumps(good))
    result = subprocess.run(
        [sys.executable, "scripts/collect_table.py", str(tmp_path)], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "notasize" in result.stderr and "not a complete results file" in result.stderr
    assert (tmp_path / "table3.csv").read_text().splitlines() == [
        "dataset,model,features,figure,M=128,weights",
        "-,m,fungi,mIoU (%),12.50,w",
    ]
