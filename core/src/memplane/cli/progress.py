"""Progress bars on stderr: a tiny built-in renderer (redrawn on a terminal, every tenth step in logs).

A bar's rate counts from its creation: callers create it after slow start-up (the
import warms the embedder up first), so the rate is the work's own.

Progress goes to stderr so that stdout stays clean for data (``memplane export``
writes JSON Lines to stdout).
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def update(self, n: int = 1) -> None: ...

    def close(self) -> None: ...


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class TextBar:
    """A minimal bar: ``label  12/40 [######.............]``, redrawn in place.

    On a terminal it redraws with carriage returns; elsewhere (a log file, a pipe) it
    prints only every tenth and the last step, so logs stay short.
    """

    WIDTH = 24

    def __init__(self, total: int | None, label: str, stream: TextIO) -> None:
        self.total = total
        self.label = label
        self.stream = stream
        self.done = 0
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last_decile = -1
        self._started = time.monotonic()

    def _rate(self) -> str:
        elapsed = time.monotonic() - self._started
        return f" {self.done / elapsed:.1f}/s" if self.done and elapsed > 0 else ""

    def _line(self) -> str:
        if not self.total:
            return f"{self.label} {self.done}{self._rate()}"
        filled = min(self.WIDTH, self.WIDTH * self.done // self.total)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        return f"{self.label} {self.done}/{self.total} [{bar}]{self._rate()}"

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._tty:
            self.stream.write("\r" + self._line())
            self.stream.flush()
            return
        decile = 10 * self.done // self.total if self.total else self.done // 100
        if decile != self._last_decile:
            self._last_decile = decile
            self.stream.write(self._line() + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self._tty:
            self.stream.write("\r" + self._line() + "\n")
            self.stream.flush()


def progress(total: int | None, label: str, *, enabled: bool = True,
             stream: TextIO | None = None) -> Progress:
    """A progress bar for ``total`` steps (None when unknown)."""
    if not enabled:
        return _Silent()
    # always our own bar, even where tqdm is installed (usearch pulls it in): one output
    # format, and a rate whose clock starts when the work does (after model start-up)
    return TextBar(total, label, stream if stream is not None else sys.stderr)
