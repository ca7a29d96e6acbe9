"""Table 3 from results files: one row per (model, features), one column per memory size (and the
data-efficient setting), each cell the mean over seeds (with the spread and count when there are several).

Results files are found anywhere under the folder and placed by the settings they record (backbone,
memory size, training subset, seed). A file that records no settings is placed by its path,
``<model>/<memory size or efficient>/results_<features>.json``, as the reproduction scripts lay them out."""

import csv
import io
import json
import logging
import statistics
from pathlib import Path

from fungi_hb.errors import UserError
from fungi_hb.storage.atomic import atomic_path

logger = logging.getLogger(__name__)


EFFICIENT = "efficient"  # the data-efficient cell's folder name, shown as the last column
ALL = "all"  # an unbounded memory of every training image


def _place(path: Path, folder: Path, result: dict) -> tuple[str, int | str, int | None] | None:
    """(model, cell, seed) of a results file; None when neither its settings nor its path say."""
    settings = result.get("settings")
    if isinstance(settings, dict) and isinstance(settings.get("backbone"), dict):
        model = settings["backbone"].get("model")
        memory_size = (settings.get("memory") or {}).get("memory_size")
        subset = (settings.get("data") or {}).get("num_train_samples")
        cell = memory_size if memory_size is not None else (EFFICIENT if subset is not None else ALL)
        return (str(model), cell, settings.get("seed")) if model else None
    parts = path.relative_to(folder).parts
    if len(parts) != 3 or not (parts[1] == EFFICIENT or parts[1].isdigit()):
        return None
    return parts[0], parts[1] if parts[1] == EFFICIENT else int(parts[1]), None


def collect(folder: Path) -> list[dict]:
    """One row per (model, features): ``miou`` maps each cell to the list of mIoUs (percent), one per seed."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder. Give the OUT_DIR the reproduction script wrote to.")
    cells: dict[tuple[str, str], dict[int | str, dict]] = {}
    weights: dict[str, str] = {}
    for path in sorted(folder.rglob("results_*.json")):
        try:
            result = json.loads(path.read_text())
            miou, source = result["miou_percent"], str(result["backbone"]["weights_source"])
            place = _place(path, folder, result)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.warning("Skipped %s: not a complete results file (%s: %s).", path, type(exc).__name__, exc)
            continue
        if place is None:
            logger.warning(
                "Skipped %s: it records no settings and is not at <model>/<memory size or %s>/.", path, EFFICIENT
            )
            continue
        if not is_percent(miou):
            logger.warning("Skipped %s: its miou_percent %r is not a number from 0 to 100.", path, miou)
            continue
        model, cell, seed = place
        features = result.get("features", path.stem.removeprefix("results_"))
        by_seed = cells.setdefault((model, features), {}).setdefault(cell, {})
        if seed in by_seed:
            logger.warning(
                "Skipped %s: another results file holds the same cell and seed (%s).", path, by_seed[seed][1]
            )
            continue
        by_seed[seed] = (float(miou), path)
        weights[model] = source
    if not cells:
        logger.warning("No results files under %s.", folder)
    return [
        {
            "model": model,
            "features": features,
            "weights": weights[model],
            "miou": {cell: [value for value, _ in by_seed.values()] for cell, by_seed in by_cell.items()},
        }
        for (model, features), by_cell in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1] != "embeddings"))
    ]


def cell_text(values: list[float]) -> str:
    """``46.80`` for one run; ``46.80 ± 0.12 (n=3)`` for several (sample standard deviation)."""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f} (n={len(values)})"


def is_percent(value: object) -> bool:
    """A real number from 0 to 100: JSON true/false (Python bools), strings, NaN and infinities are not."""
    # NaN and infinities fail the range test (math.isfinite would overflow on a 400-digit JSON integer)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 100


def render(rows: list[dict]) -> tuple[str, str]:
    """(Markdown, CSV) with one column per memory size."""
    present = {size for row in rows for size in row["miou"]}
    named = [s for s in (ALL, EFFICIENT) if s in present]
    sizes = sorted(s for s in present if s not in named) + named
    titles = {ALL: "all patches", EFFICIENT: "data-efficient"}
    header = ["model", "features", *[titles.get(s, f"M={s}") for s in sizes], "weights"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        values = [cell_text(row["miou"][s]) if s in row["miou"] else "" for s in sizes]
        lines.append("| " + " | ".join([row["model"], row["features"], *values, row["weights"]]) + " |")
        writer.writerow([row["model"], row["features"], *values, row["weights"]])
    return "\n".join(lines) + "\n", buffer.getvalue()


def write_tables(rows: list[dict], markdown_path: Path, csv_path: Path) -> str:
    markdown, table_csv = render(rows)
    for path, text in ((markdown_path, markdown), (csv_path, table_csv)):
        with atomic_path(Path(path)) as tmp:
            tmp.write_text(text)
    logger.info("Wrote %s and %s", markdown_path, csv_path)
    return markdown
