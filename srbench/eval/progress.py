"""The one progress bar of a run (CLI and API alike): on stderr, cleared when done, and log lines
written while it runs go above it on their own line (never glued to the bar)."""

from __future__ import annotations

import contextlib
import sys


@contextlib.contextmanager
def progress_bar(total: int, unit: str = "images", desc: str | None = None, enabled: bool = True):
    """A bar with ``update(n)``; a no-op bar when ``enabled`` is False (tqdm also honours TQDM_DISABLE)."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    bar = tqdm(total=total, unit=unit, desc=desc, leave=False, file=sys.stderr, disable=not enabled or None)
    try:
        with logging_redirect_tqdm():
            yield bar
    finally:
        bar.close()
