"""Ctrl-C while worker processes are started.

CPython runs the ``os.register_at_fork`` callbacks (logging's module lock, random's reseed, ...) around
every ``os.fork()`` and swallows whatever they raise, KeyboardInterrupt included: a Ctrl-C that lands
while a DataLoader or a process pool forks its workers is printed as "Exception ignored in: <function
_releaseLock ...>" and lost, and the run goes on to the end with exit status 0.
"""

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) while the block runs, then deliver it: the KeyboardInterrupt is raised after the
    block, in ordinary code, where it cannot be swallowed. Wrap the calls that fork."""
    previous = signal.getsignal(signal.SIGINT)
    # only the main thread may set handlers; one installed from C (None) could not be put back
    if threading.current_thread() is not threading.main_thread() or previous is None:
        yield
        return
    held: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))  # forked children inherit it: harmless
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if held:
        signal.raise_signal(signal.SIGINT)  # handled now as it would have been: KeyboardInterrupt by default
