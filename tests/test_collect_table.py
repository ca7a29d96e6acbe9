"""scripts/collect_table.py: only real mIoU percentages reach the table, and no table without a result."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def collect_table(folder: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "scripts/collect_table.py", str(folder)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def write_result(path: Path, miou_text: str) -> Path:
    """A results file whose miou_percent is ``miou_text`` written as is (NaN and 1e999 are not JSON)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rest = json.dumps({"features": "fungi", "backbone": {"weights_source": "w"}})
    path.write_text('{"miou_percent": ' + miou_text + ", " + rest[1:])
    return path


BAD = {"64": "true", "128": "NaN", "256": "1e999", "512": "-5", "1024": '"12.5"', "2048": "100.5", "4096": "-Infinity"}


def test_miou_percent_that_is_not_a_number_from_0_to_100_is_skipped_with_a_warning(tmp_path):
    skipped = [write_result(tmp_path / "m" / size / "results_fungi.json", text) for size, text in BAD.items()]
    write_result(tmp_path / "m" / "100" / "results_fungi.json", "100")
    write_result(tmp_path / "m" / "efficient" / "results_fungi.json", "0")
    write_result(tmp_path / "m" / "32" / "results_fungi.json", "37.25")
    result = collect_table(tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    for path in skipped:
        assert f"Skipped {path}: its miou_percent" in result.stderr
    assert "not a number from 0 to 100" in result.stderr
    lines = (tmp_path / "table3.csv").read_text().splitlines()
    assert lines == [
        "dataset,model,features,figure,M=32,M=100,data-efficient,weights",
        "-,m,fungi,mIoU (%),37.25,100.00,0.00,w",
    ]


def test_no_usable_result_fails_and_writes_no_table(tmp_path):
    for size, text in BAD.items():
        write_result(tmp_path / "m" / size / "results_fungi.json", text)
    result = collect_table(tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"No usable results under {tmp_path}: of its {len(BAD)} results_*.json files" in result.stderr
    assert not (tmp_path / "table3.md").exists() and not (tmp_path / "table3.csv").exists()


@pytest.mark.parametrize("where", ["flat", "too deep"])
def test_results_outside_the_model_size_layout_fail_and_write_no_table(tmp_path, where):
    folder = tmp_path if where == "flat" else tmp_path / "runs" / "m"
    write_result(folder / "results_fungi.json", "12.5")
    write_result(folder / "results_embeddings.json", "10")
    result = collect_table(tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "No usable results" in result.stderr and "<model>/<memory size or efficient>/" in result.stderr
    assert list(tmp_path.glob("*.csv")) == []


def test_a_folder_without_results_files_fails_and_writes_no_table(tmp_path):
    result = collect_table(tmp_path)
    assert result.returncode == 2 and f"No results_*.json files under {tmp_path}." in result.stderr
    assert list(tmp_path.iterdir()) == []


def real_result(path: Path, miou: float, seed: int, memory_size: int | None, subset: int | None = None, **more) -> None:
    """A results file as eval_gradients.py writes it: the cell is in its settings, not its path."""
    settings = {
        "seed": seed,
        "backbone": {"model": "dino_vits16"},
        "memory": {"memory_size": memory_size},
        "data": {"num_train_samples": subset, "data_dir": f"/data/{seed}"},  # where the data lay is no setting
        "index": {"num_neighbors": more.pop("k", 30)},
        "runtime": {"device": f"cuda:{seed}"},
    }
    result = {"miou_percent": miou, "features": "fungi", "backbone": {"weights_source": "w"}, "settings": settings}
    if "rmse" in more:
        del result["miou_percent"]
    result.update(more)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))


def test_results_anywhere_are_grouped_by_their_settings_with_mean_and_spread_over_seeds(tmp_path):
    real_result(tmp_path / "results_a.json", 40.0, 0, 102400)  # a flat folder, any names
    real_result(tmp_path / "x" / "y" / "results_b.json", 42.0, 1, 102400)
    real_result(tmp_path / "results_c.json", 44.0, 2, 102400)
    real_result(tmp_path / "deep" / "results_d.json", 27.5, 0, None, subset=83)
    result = collect_table(tmp_path)
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "table3.csv").read_text().splitlines()
    assert lines == [
        "dataset,model,features,figure,M=102400,data-efficient,weights",
        "-,dino_vits16,fungi,mIoU (%),42.00 ± 2.00 (n=3),27.50,w",
    ]


def test_a_table_keeps_datasets_weights_and_experiments_apart_and_says_its_units(tmp_path):
    """A VOC and an ADE20K run of the same model, seed and cell are two rows; so are two values of k; seeds
    of random weights are one row; the memory's real rows are named; depth shows RMSE in metres."""
    for seed in (1, 2, 3):
        real_result(tmp_path / f"voc{seed}" / "results_fungi.json", 40.0 + seed, seed, 1024, dataset="voc",
                    memory_rows=1012, backbone={"weights_source": f"random (seed {seed})"})  # fmt: skip
    real_result(tmp_path / "ade" / "results_fungi.json", 13.42, 1, 1024, dataset="ade20k-150", memory_rows=1012,
                backbone={"weights_source": "random (seed 1)"})  # fmt: skip
    real_result(tmp_path / "k10" / "results_fungi.json", 30.0, 1, 1024, dataset="voc", memory_rows=1012, k=10,
                backbone={"weights_source": "random (seed 1)"})  # fmt: skip
    result = collect_table(tmp_path)
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "results.csv").read_text().splitlines()  # several datasets: not "table3"
    assert lines[0] == "dataset,model,features,figure,M=1024 (1012 rows),weights"
    assert "ade20k-150,dino_vits16,fungi,mIoU (%),13.42,random" in lines
    assert "voc,dino_vits16 [num_neighbors=30],fungi,mIoU (%),42.00 ± 1.00 (n=3),random" in lines
    assert "voc,dino_vits16 [num_neighbors=10],fungi,mIoU (%),30.00,random" in lines
    assert "same experiment, cell and seed" not in result.stderr

    depth = tmp_path / "depth"
    real_result(depth / "results_fungi.json", 0, 1, None, subset=None, rmse=0.512, dataset="nyuv2")
    result = collect_table(depth)
    assert (depth / "nyuv2.csv").read_text().splitlines()[1] == "nyuv2,dino_vits16,fungi,RMSE (m),0.512,w"
