"""The shared main-wrapper: logging, and user errors as one clear line with exit status 2."""

import logging
import sys
from typing import Callable

from ..errors import UserError
from ..log import setup_logging

logger = logging.getLogger("fungi_hb")


def run_main(job: Callable[[], object], log_level: str) -> int:
    setup_logging(log_level)
    try:
        job()
    except UserError as exc:
        logger.error("%s", exc)
        return 2
    except KeyboardInterrupt:
        logger.error("Interrupted; no partial output was left in place.")
        return 130
    return 0


def fail(message: str) -> None:
    """Report a user error found while parsing and exit with status 2."""
    setup_logging("INFO")
    logger.error("%s", message)
    sys.exit(2)
