"""How a setting is declared: once, on its config field, with its flag, help, group and parser. The scripts'
parsers, the table from fields to flags and the job built from the flags are all derived from these
declarations (``cli/``); a job's own defaults (its default instance) are the scripts' defaults.

    rows: int | None = setting(None, Flag("--my-rows", "memory bank", "Rows kept.", parse=positive_int))

Torch-free: the flags are parsed (and ``--help`` answered) before the libraries load.
"""

import argparse
import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable

FLAG, NESTED = "fungi_hb.flag", "fungi_hb.nested"


@dataclass(frozen=True)
class Flag:
    """How one config field is set from the command line."""

    name: str  # "--memory-size"
    group: str  # the --help section it is listed in
    help: str  # what it does; the default is appended from the job's default instance
    parse: Callable[[str], Any] | None = None  # argparse type (None: the text itself; bools are switches)
    choices: Callable[[], tuple[str, ...]] | tuple[str, ...] | None = None  # a callable is asked when parsing
    aliases: tuple[str, ...] = ()  # other names of the flag (the published README's spellings)
    nargs: int | None = None  # several values (a tuple field)
    shown_default: str | None = None  # how --help shows the default, where the value alone would mislead
    metavar: str | None = None


@dataclass(frozen=True)
class Nested:
    """A field holding another config whose settings a job offers, with the job's own help for some."""

    help: dict[str, str]  # field name -> this job's help for it
    hidden: tuple[str, ...]  # field names this job does not offer as flags


def setting(default: Any, flag: Flag, default_factory: Callable[[], Any] | None = None) -> Any:
    """A dataclass field set by ``flag`` (a default, or a ``default_factory`` for mutable ones)."""
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata={FLAG: flag})
    return dataclasses.field(default=default, metadata={FLAG: flag})


def nested(default_factory: Callable[[], Any], help: dict[str, str] | None = None, hidden: tuple[str, ...] = ()):
    """A job field holding a config whose flags the job offers (all but ``hidden``)."""
    metadata = {NESTED: Nested(dict(help or {}), tuple(hidden))}
    return dataclasses.field(default_factory=default_factory, metadata=metadata)


# ---------------------------------------------------------------- value parsers (argparse types)


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """A whole number >= 0."""
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def seed(text: str) -> int:
    """A whole number in [0, 2**63)."""
    value = non_negative_int(text)
    if value >= 2**63:
        raise argparse.ArgumentTypeError(f"must be below 2**63, got {value}")
    return value


def finite_float(text: str) -> float:
    """A finite number."""
    value = _number(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _number(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a finite number greater than 0, got {value}")
    return value


def probability(text: str) -> float:
    """A number in (0, 1]."""
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be at most 1 (1 keeps all), got {value}")
    return value


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
