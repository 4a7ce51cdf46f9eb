"""Named points where the crash and concurrency tests stop a real process.

The library calls `crash_point(name)` at the moments a crash would hurt most (a table written but
not renamed, a version moved but not pointed at, ...). Nothing happens unless a test sets

- `GRAPHMER_TEST_CRASH_AT=<name>`: the process SIGKILLs itself there (no cleanup, no `finally`),
  as a power cut or the OOM killer would;
- `GRAPHMER_TEST_PAUSE_AT=<name>` and `GRAPHMER_TEST_PAUSE_FILE=<path>`: the process creates
  `<path>.reached` there and waits until `<path>` exists, so a test can run something else while
  it holds that state (a lock, a half-written folder).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

PAUSE_LIMIT_S = 300  # a paused process carries on after this, so a broken test cannot hang for ever


def crash_point(name: str) -> None:
    env = os.environ
    if env.get("GRAPHMER_TEST_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if env.get("GRAPHMER_TEST_PAUSE_AT") == name and env.get("GRAPHMER_TEST_PAUSE_FILE"):
        go = Path(env["GRAPHMER_TEST_PAUSE_FILE"])
        Path(f"{go}.reached").write_text(f"{os.getpid()}\n")
        deadline = time.monotonic() + PAUSE_LIMIT_S
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
