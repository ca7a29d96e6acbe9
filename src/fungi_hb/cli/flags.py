"""The scripts' parsers, derived from the settings their jobs declare (``cli.declared``), plus the few options
that belong to a script rather than to its job (``--output-dir``, ``--log-level``). Published flags keep
their names and defaults."""

import argparse
from pathlib import Path
from typing import Any, Callable, TypeVar

from fungi_hb import settings
from fungi_hb.cli.declared import Declared, declared, with_values
from fungi_hb.errors import UserError
from fungi_hb.storage.cache import DESCRIPTION as CACHE_NOTE

T = TypeVar("T")
SCRIPT_GROUP = "this run"
# the --help sections in this order; a section not listed comes after them
GROUP_ORDER = ("backbone", "data", "memory bank", "nearest-neighbour index", "support index", "FUNGI features")


class HelpFormatter(argparse.HelpFormatter):
    """Keeps the description's line breaks."""

    def _fill_text(self, text, width, indent):
        return "".join(indent + line for line in text.splitlines(keepends=True))


def _shown(item: Declared) -> str:
    """``(default: ...)`` for the help of a setting."""
    if item.flag.shown_default is not None:
        return item.flag.shown_default
    value = item.default
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "off" if not value else "on"
    if isinstance(value, (tuple, list)):
        return " ".join(str(v) for v in value)
    return str(getattr(value, "value", value))


def _metavar(parse: Callable | None) -> str:
    """N for whole numbers, X for other numbers, PATH for paths, NAME for text."""
    if parse in (settings.positive_int, settings.non_negative_int, settings.seed):
        return "N"
    if parse in (settings.positive_float, settings.finite_float, settings.probability):
        return "X"
    return "PATH" if parse is Path else "NAME"


def _order(title: str) -> int:
    return next((i for i, start in enumerate(GROUP_ORDER) if title.startswith(start)), len(GROUP_ORDER))


def build_parser(job_type: type, description: str) -> argparse.ArgumentParser:
    """A parser with one option per setting ``job_type`` offers, grouped as declared. Every option defaults
    to "not given" (argparse.SUPPRESS): the job's own default stands unless the flag is passed."""
    parser = argparse.ArgumentParser(
        description=description, epilog=CACHE_NOTE, formatter_class=HelpFormatter, allow_abbrev=False
    )
    items = declared(job_type)
    groups: dict[str, argparse._ArgumentGroup] = {}
    for title in sorted(dict.fromkeys(item.flag.group for item in items), key=_order):
        groups[title] = parser.add_argument_group(title)
    for item in items:
        flag = item.flag
        options: dict[str, Any] = {"dest": item.path, "default": argparse.SUPPRESS}
        options["help"] = f"{item.help} (default: {_shown(item)})"
        if isinstance(item.default, bool) and flag.parse is None:
            options["action"] = "store_true"
        else:
            options["type"] = flag.parse or str
            options["metavar"] = flag.metavar or _metavar(flag.parse)
            if flag.choices is not None:
                options["choices"] = flag.choices() if callable(flag.choices) else flag.choices
                options["metavar"] = "{" + ",".join(options["choices"]) + "}"
            if flag.nargs is not None:
                options["nargs"] = flag.nargs
        groups[flag.group].add_argument(flag.name, *flag.aliases, **options)
    return parser


def add_script_options(parser: argparse.ArgumentParser, output_dir_holds: str) -> None:
    """The options of the script itself: one folder for everything it writes, and how much it logs."""
    group = parser.add_argument_group(SCRIPT_GROUP)
    group.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"One folder for everything this run writes, under standard names ({output_dir_holds}); flags that "
        "name a path themselves still win. (default: none)",
    )
    group.add_argument(
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="How much to log on stderr: DEBUG adds tracebacks of handled errors and the search library's own "
        "lines. (default: INFO)",
    )


def given(args: argparse.Namespace) -> dict[str, Any]:
    """The settings passed on the command line, by dotted field path (tuples for several values)."""
    script_options = {"output_dir", "log_level"}
    return {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in vars(args).items()
        if key not in script_options
    }


def job_of(job_type: type, args: argparse.Namespace) -> Any:
    """The job's default instance with every setting passed on the command line."""
    return with_values(job_type(), given(args))


def parse_job(
    parser: argparse.ArgumentParser, argv: list[str] | None, job_from_args: Callable[[argparse.Namespace], T]
) -> tuple[argparse.Namespace, T]:
    """(the parsed flags, the job they make); flags that contradict each other end like argparse's own
    errors: one line and exit status 2."""
    args = parser.parse_args(argv)
    try:
        return args, job_from_args(args)
    except UserError as exc:
        parser.error(str(exc))


def log_file(output_dir: Path | None, main_output: Path | None, name: str) -> Path | None:
    """Where the run's log is copied: ``output_dir/<name>.log``, else beside the main output."""
    if output_dir is not None:
        return output_dir / f"{name}.log"
    return Path(main_output).with_suffix(".log") if main_output is not None else None
