"""Stop signals for the relay's whole life, from the first line of ``outbox-triggers relay``.

Before the relay has read anything, a SIGTERM or SIGINT ends the process at
once with exit 0 (:func:`exit_now`): there is nothing to finish. Once the
relay runs, the first signal asks it to finish what is in flight and return
(exit 0); a second one abandons the requests in flight (:class:`ColdShutdown`,
exit 130), and their events stay in the table for the next relay.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
EXIT_COLD = 130


class ColdShutdown(BaseException):
    """A second stop signal: leave now, abandoning the requests in flight."""


Handler = Callable[[int, FrameType | None], None]


def install(handler: Handler) -> Callable[[], None]:
    """Handle SIGTERM and SIGINT with ``handler`` (main thread only); return the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def cold(signum: int, frame: FrameType | None) -> None:
    """The handler after a first signal: raise :class:`ColdShutdown`."""
    raise ColdShutdown(signum)


def name(signum: int) -> str:
    """``SIGTERM``, ``SIGINT``, …"""
    return signal.Signals(signum).name


def exit_now(signum: int, frame: FrameType | None) -> None:
    """The handler while the relay starts: nothing is read or sent yet, so exit 0 at once."""
    os.write(2, f"{name(signum)} received while starting: stopped before relaying anything\n".encode())
    os._exit(0)


def restore_defaults() -> None:
    """Give SIGTERM and SIGINT back their usual behaviour (commands other than the relay)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
