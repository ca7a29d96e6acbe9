"""The shared main-wrapper: logging, and user errors as one clear line with exit status 2."""

import logging
from typing import Callable

from ..errors import UserError
from ..log import setup_logging

logger = logging.getLogger("fungi_hb")


def run_main(job: Callable[[], object], log_level: str) -> int:
    """Run ``job`` with logging set up; 0 on success, 2 for a user error, 130 when interrupted."""
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
