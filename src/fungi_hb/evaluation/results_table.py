"""A table from results files: one row per experiment (dataset, model, weights, features and every other setting
that makes runs different experiments), one column per memory size (and the data-efficient setting), each
cell the mean over seeds (with the spread and count when there are several), in the task's own figure:
mIoU in % (higher is better) or depth RMSE in metres (lower is better).

Results files are found anywhere under the folder and placed by the settings they record. A file that records
no settings is placed by its path, ``<model>/<memory size or efficient>/results_<features>.json``, as the
reproduction scripts lay them out. Two runs of one cell and seed that differ in other settings are separate
rows, each labelled with what sets it apart; they are never averaged together."""

import csv
import io
import json
import logging
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from fungi_hb.errors import UserError
from fungi_hb.storage.atomic import atomic_path

logger = logging.getLogger(__name__)

EFFICIENT = "efficient"  # the data-efficient cell's folder name, shown as the last column
ALL = "all"  # an unbounded memory of every training image
METRICS = {"miou_percent": "mIoU (%)", "rmse": "RMSE (m)"}  # the headline of each task, and its unit
# Settings that say where or how a run went, not what it measured; and the ones a column is made of.
NOT_THE_EXPERIMENT = {"seed", "runtime", "output", "save_eval_memory", "load_eval_memory", "save_predictions",
                      "num_predictions", "save_projection_matrix", "support_features", "support_index"}  # fmt: skip
NOT_THE_EXPERIMENT_DATA = {"data_dir", "batch_size", "num_workers"}


@dataclass
class Entry:
    """One results file, placed."""

    path: Path
    value: float
    metric: str  # a key of METRICS
    row: tuple[str, str, str]  # dataset, model, features
    cell: int | str
    seed: int | None
    weights: str  # where the weights came from, without the seed of random ones
    experiment: dict = field(default_factory=dict)  # the settings that make it this experiment (flattened)
    rows: int | None = None  # the memory's rows


def _flat(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = json.dumps(value)
    return out


def _experiment(settings: dict) -> dict:
    kept = {key: value for key, value in settings.items() if key not in NOT_THE_EXPERIMENT}
    if isinstance(kept.get("data"), dict):
        kept["data"] = {k: v for k, v in kept["data"].items() if k not in NOT_THE_EXPERIMENT_DATA}
    if isinstance(kept.get("backbone"), dict):
        kept["backbone"] = {k: v for k, v in kept["backbone"].items() if k != "weights"}  # a row's own column
    return _flat(kept)


def _cell(settings: dict) -> int | str:
    memory_size = (settings.get("memory") or {}).get("memory_size")
    subset = (settings.get("data") or {}).get("num_train_samples")
    return memory_size if memory_size is not None else (EFFICIENT if subset is not None else ALL)


def _entry(path: Path, folder: Path, result: dict) -> Entry | None:
    """The placed entry of one results file; None when neither its settings nor its path say where."""
    metric = next((key for key in METRICS if key in result), "miou_percent")
    value = result[metric]
    weights = re.sub(r"random \(seed \d+\)", "random", str(result["backbone"]["weights_source"]))
    settings = result.get("settings")
    dataset = str(result.get("dataset_label") or result.get("dataset") or "-")
    features = str(result.get("features", path.stem.removeprefix("results_")))
    if isinstance(settings, dict) and isinstance(settings.get("backbone"), dict) and settings["backbone"].get("model"):
        row = (dataset, str(settings["backbone"]["model"]), features)
        return Entry(path, value, metric, row, _cell(settings), settings.get("seed"), weights, _experiment(settings),
                     result.get("memory_rows"))  # fmt: skip
    parts = path.relative_to(folder).parts
    if len(parts) != 3 or not (parts[1] == EFFICIENT or parts[1].isdigit()):
        return None
    cell = parts[1] if parts[1] == EFFICIENT else int(parts[1])
    return Entry(
        path, value, metric, (dataset, parts[0], features), cell, None, weights, rows=result.get("memory_rows")
    )


def is_number(value: object, metric: str) -> bool:
    """A real number in the metric's range (mIoU 0..100, RMSE >= 0): JSON true/false (Python bools), strings,
    NaN and infinities are not."""
    # NaN and infinities fail the range tests (math.isfinite would overflow on a 400-digit JSON integer)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    return 0 <= value <= 100 if metric == "miou_percent" else 0 <= value < float("inf")


def _read(folder: Path) -> list[Entry]:
    entries = []
    for path in sorted(folder.rglob("results_*.json")):
        try:
            result = json.loads(path.read_text())
            entry = _entry(path, folder, result)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.warning("Skipped %s: not a complete results file (%s: %s).", path, type(exc).__name__, exc)
            continue
        if entry is None:
            logger.warning(
                "Skipped %s: it records no settings and is not at <model>/<memory size or %s>/.", path, EFFICIENT
            )
        elif not is_number(entry.value, entry.metric):
            bounds = "a number from 0 to 100" if entry.metric == "miou_percent" else "a finite number of 0 or more"
            logger.warning("Skipped %s: its %s %r is not %s.", path, entry.metric, entry.value, bounds)
        else:
            entries.append(entry)
    return entries


def _variants(entries: list[Entry]) -> dict[int, str]:
    """id(entry) -> a label naming the settings that set its experiment apart from the others of its row and
    cell ('' where the row and cell hold one experiment)."""
    labels: dict[int, str] = {}
    groups: dict[tuple, list[Entry]] = {}
    for entry in entries:
        groups.setdefault((entry.row, entry.cell, entry.weights), []).append(entry)
    for group in groups.values():
        kinds = {json.dumps(entry.experiment, sort_keys=True) for entry in group}
        if len(kinds) == 1:
            continue
        differing = sorted({key for e in group for key in e.experiment if len({json.dumps(g.experiment.get(key))
                                                                                for g in group}) > 1})  # fmt: skip
        for entry in group:
            labels[id(entry)] = ", ".join(f"{key.rsplit('.', 1)[-1]}={json.loads(entry.experiment[key])}"
                                          for key in differing if key in entry.experiment)  # fmt: skip
    return labels


def collect(folder: Path) -> list[dict]:
    """One row per experiment: ``values`` maps each cell to the list of values (one per seed)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder. Give the OUT_DIR the reproduction script wrote to.")
    entries = _read(folder)
    if not entries:
        logger.warning("No results files under %s.", folder)
    labels = _variants(entries)
    rows: dict[tuple, dict] = {}
    for entry in entries:
        dataset, model, features = entry.row
        key = (dataset, model, labels.get(id(entry), ""), entry.weights, features != "embeddings", features)
        row = rows.setdefault(key, {"dataset": dataset, "model": model, "variant": labels.get(id(entry), ""),
                                    "features": features, "metric": entry.metric, "weights": entry.weights,
                                    "values": {}, "seeds": {}, "rows": {}})  # fmt: skip
        seeds = row["seeds"].setdefault(entry.cell, {})
        if entry.seed in seeds:
            logger.warning("Skipped %s: another results file holds the same experiment, cell and seed (%s).",
                           entry.path, seeds[entry.seed])  # fmt: skip
            continue
        seeds[entry.seed] = entry.path
        row["values"].setdefault(entry.cell, []).append(float(entry.value))
        row["rows"].setdefault(entry.cell, set()).add(entry.rows)
    return [rows[key] for key in sorted(rows)]


def cell_text(values: list[float], metric: str = "miou_percent") -> str:
    """``46.80`` for one run; ``46.80 ± 0.12 (n=3)`` for several (sample standard deviation); depth in metres
    to three decimals."""
    digits = 2 if metric == "miou_percent" else 3
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f} (n={len(values)})"


def _title(cell: int | str, rows: set) -> str:
    if cell == ALL:
        return "all patches"
    if cell == EFFICIENT:
        return "data-efficient"
    held = {r for r in rows if r is not None}
    if len(held) == 1 and next(iter(held)) != cell:
        return f"M={cell} ({next(iter(held))} rows)"  # the memory holds fewer rows than asked (whole images)
    return f"M={cell}" if len(held) <= 1 else f"M={cell} (rows vary)"


def render(rows: list[dict]) -> tuple[str, str]:
    """(Markdown, CSV) with one column per memory size."""
    present = {cell for row in rows for cell in row["values"]}
    named = [c for c in (ALL, EFFICIENT) if c in present]
    cells = sorted(c for c in present if c not in named) + named
    held = {c: set().union(*(row["rows"].get(c, set()) for row in rows)) for c in cells}
    header = ["dataset", "model", "features", "figure", *[_title(c, held[c]) for c in cells], "weights"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        model = f"{row['model']} [{row['variant']}]" if row["variant"] else row["model"]
        values = [cell_text(row["values"][c], row["metric"]) if c in row["values"] else "" for c in cells]
        line = [row["dataset"], model, row["features"], METRICS[row["metric"]], *values, row["weights"]]
        lines.append("| " + " | ".join(line) + " |")
        writer.writerow(line)
    return "\n".join(lines) + "\n", buffer.getvalue()


def table_name(rows: list[dict]) -> str:
    """The tables' file name: table3 for Pascal VOC alone (the paper's table), the dataset's name for one
    other dataset, ``results`` for several."""
    datasets = {row["dataset"] for row in rows}
    if datasets <= {"voc", "-"}:
        return "table3"
    return next(iter(datasets)) if len(datasets) == 1 else "results"


def write_tables(rows: list[dict], markdown_path: Path, csv_path: Path) -> str:
    markdown, table_csv = render(rows)
    for path, text in ((markdown_path, markdown), (csv_path, table_csv)):
        with atomic_path(Path(path)) as tmp:
            tmp.write_text(text)
    logger.info("Wrote %s and %s", markdown_path, csv_path)
    return markdown
