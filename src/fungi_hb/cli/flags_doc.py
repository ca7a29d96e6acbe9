"""docs/flags.md, written from the two scripts' parsers (themselves made from the settings the jobs declare),
so the page cannot fall behind the code: ``python scripts/flags_doc.py`` rewrites it and a test compares."""

import argparse
import re

from fungi_hb.cli import create_memory_bank, eval_gradients

# The published code's flags: same names, same meaning (the published README's commands use exactly these).
PUBLISHED_FLAGS = frozenset(
    "--anisotropic-quantization-threshold --augmentation-epochs --batch-size --data-dir --dimensions-per-block "
    "--gradients-layer --input-size --latent-dim --memory-bank --memory-bank-labels --memory-size --model "
    "--n-neighbors --negative-batch-percent --num-leaves --num-leaves-to-search --num-negative-neighbors "
    "--num-neighbors --num-reordering-candidates --num-train-samples --patch-size --scann-index --seed "
    "--temperature --use-fp16".split()
)
SCRIPTS = {"create": create_memory_bank, "eval": eval_gradients}
HEADER = """# Flags

Written by `python scripts/flags_doc.py` from the scripts' own parsers (a test checks that it is current);
`--help` shows the same. **P** marks the flags the published README's commands use, with the published
code's names and meanings; the one exception is `--n-neighbors`, which that README passes but the
published script does not define: here it is another name for `--num-negative-neighbors`
([reproducing](reproducing.md)).
*create* is `create_memory_bank.py`, *eval* is `eval_gradients.py`. The settings are also keywords of
`fungi_hb.evaluate` ([your own model](your-own-model.md)), spelled with underscores (`--memory-size` is
`memory_size`); the call lays out its own output paths.
"""


def _options(parser: argparse.ArgumentParser) -> dict[str, tuple[str, str, str, str]]:
    """Flag -> (section, the flag as typed, meaning, default) of every option but --help."""
    rows = {}
    for group in parser._action_groups:  # argparse keeps the sections only here
        for action in group._group_actions:
            if not action.option_strings or isinstance(action, argparse._HelpAction):
                continue
            meaning, default = re.fullmatch(r"(.*) \(default: (.*)\)", action.help, flags=re.S).groups()
            names = [f"`{name}`" + (" **P**" if name in PUBLISHED_FLAGS else "") for name in action.option_strings]
            typed = " / ".join(names)
            if action.choices is not None:
                typed += f" `{{{','.join(map(str, action.choices))}}}`"
            elif action.metavar is not None:
                typed += f" `{' '.join([action.metavar] * (action.nargs if isinstance(action.nargs, int) else 1))}`"
            rows[action.option_strings[0]] = (group.title, typed, meaning, default)
    return rows


def _either(values: dict[str, str], separator: str, end: str = "") -> str:
    """One value where the scripts agree, else each script's (each without its full stop ``end``)."""
    if len(set(values.values())) == 1:
        return next(iter(values.values()))
    return separator.join(f"{script}: {value.removesuffix(end)}" for script, value in values.items()) + end


def flags_markdown() -> str:
    """The whole of docs/flags.md."""
    options = {script: _options(module.build_parser()) for script, module in SCRIPTS.items()}
    names = list(dict.fromkeys(name for rows in options.values() for name in rows))
    sections: dict[str, list[str]] = {}
    for name in names:
        having = {script: rows[name] for script, rows in options.items() if name in rows}
        section, typed = next(iter(having.values()))[:2]
        scripts = "both" if len(having) == len(SCRIPTS) else next(iter(having))
        meaning = _either({script: row[2] for script, row in having.items()}, "; ", ".")
        default = _either({script: row[3] for script, row in having.items()}, ", ")
        cells = [typed, scripts, default.replace("|", "\\|"), meaning.replace("|", "\\|")]
        sections.setdefault(section, []).append("| " + " | ".join(cells) + " |")
    text = HEADER
    for section, rows in sections.items():
        text += f"\n## {section[0].upper()}{section[1:]}\n\n| flag | scripts | default | meaning |\n|---|---|---|---|\n"
        text += "\n".join(rows) + "\n"
    return text
