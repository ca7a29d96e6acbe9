"""Table 3 from results files laid out as ``<folder>/<model>/<memory size>/results_<features>.json``."""

import csv
import io
import json
import logging
from pathlib import Path

from fungi_hb.errors import UserError
from fungi_hb.storage.atomic import atomic_path

logger = logging.getLogger(__name__)


EFFICIENT = "efficient"  # the data-efficient cell's folder name, shown as the last column


def collect(folder: Path) -> list[dict]:
    """One row per (model, features), one column per memory size (and the data-efficient setting):
    mIoU in percent."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder. Give the OUT_DIR the reproduction script wrote to.")
    cells: dict[tuple[str, str], dict[int | str, float]] = {}
    weights: dict[str, str] = {}
    for path in sorted(folder.glob("*/*/results_*.json")):
        model, cell = path.parent.parent.name, path.parent.name
        if cell != EFFICIENT and not cell.isdigit():
            logger.warning("Skipped %s: its folder %r is neither a memory size nor %r.", path, cell, EFFICIENT)
            continue
        try:
            result = json.loads(path.read_text())
            miou, source = result["miou_percent"], str(result["backbone"]["weights_source"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("Skipped %s: not a complete results file (%s: %s).", path, type(exc).__name__, exc)
            continue
        if not is_percent(miou):
            logger.warning("Skipped %s: its miou_percent %r is not a number from 0 to 100.", path, miou)
            continue
        size = cell if cell == EFFICIENT else int(cell)
        features = result.get("features", path.stem.removeprefix("results_"))
        cells.setdefault((model, features), {})[size] = float(miou)
        weights[model] = source
    if not cells:
        logger.warning("No results files under %s.", folder)
    return [
        {"model": model, "features": features, "weights": weights[model], "miou": by_size}
        for (model, features), by_size in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1] != "embeddings"))
    ]


def is_percent(value: object) -> bool:
    """A real number from 0 to 100: JSON true/false (Python bools), strings, NaN and infinities are not."""
    # NaN and infinities fail the range test (math.isfinite would overflow on a 400-digit JSON integer)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 100


def render(rows: list[dict]) -> tuple[str, str]:
    """(Markdown, CSV) with one column per memory size."""
    present = {size for row in rows for size in row["miou"]}
    sizes = sorted(s for s in present if s != EFFICIENT) + ([EFFICIENT] if EFFICIENT in present else [])
    header = ["model", "features", *[f"M={s}" if s != EFFICIENT else "data-efficient" for s in sizes], "weights"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        values = [f"{row['miou'][s]:.2f}" if s in row["miou"] else "" for s in sizes]
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
