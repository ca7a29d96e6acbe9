"""The table from job fields to flags, derived from the declarations (``cli.declared``). The package below
``cli/`` names settings by their field in the typed jobs (``MemoryBankJob``, ``EvalJob``), quoted in
backticks: `memory.memory_size`. Messages shown to a user of the scripts name the flag instead: ``render``
rewrites errors and log lines."""

import logging
import re
from contextlib import contextmanager
from typing import Iterator

from fungi_hb.cli.declared import flag_table
from fungi_hb.jobs.configs import EvalJob, MemoryBankJob

FLAGS: dict[str, str] = flag_table(MemoryBankJob, EvalJob)  # "memory.memory_size" -> "--memory-size"

_FIELD = re.compile(r"`([a-z_][a-z0-9_.]*)`")


def keyword(flag: str) -> str:
    """A flag as the Python API spells it: ``--memory-size`` -> ``memory_size``."""
    return flag.lstrip("-").replace("-", "_")


KEYWORDS: dict[str, str] = {
    path: keyword(flag) for path, flag in FLAGS.items()
}  # "memory.memory_size" -> "memory_size"


def render(text: str, names: dict[str, str] = FLAGS) -> str:
    """``text`` with every backticked job field that has a flag replaced by its name in ``names`` (the flags,
    or the API's keywords)."""
    return _FIELD.sub(lambda m: names.get(m.group(1), m.group(0)), text)


@contextmanager
def flag_names(names: dict[str, str] = FLAGS) -> Iterator[None]:
    """While the block runs, the package's log records name settings as ``names`` does (flags by default)
    instead of fields, whatever handler shows them (the console, pytest's capture)."""
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:  # signature of logging's record factories
        record = previous(*args, **kwargs)
        if record.name.startswith("fungi_hb"):
            message = record.getMessage()
            if "`" in message:
                record.msg, record.args = render(message, names), ()
        return record

    logging.setLogRecordFactory(factory)
    try:
        yield
    finally:
        logging.setLogRecordFactory(previous)
