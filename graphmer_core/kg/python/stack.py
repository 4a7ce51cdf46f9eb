"""Room to recurse: the name lookup and the points-to analysis are demand-driven and recursive,
to a depth that the code resolved sets (sympy passes values down chains of hundreds of calls),
far past the interpreter's default limit of 1000 frames. Resolution runs on a thread of its own
with a large stack (virtual memory: only the pages a deep chain touches are used) and a recursion
limit that stack holds. A chain deeper still raises RecursionError, which the resolver records
for the call or file it was resolving (`Resolver.failed`) and goes on."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

STACK_BYTES = 1 << 30
# A value flow 40,000 calls deep (about 200,000 frames) resolves within STACK_BYTES (measured on
# CPython 3.11): this limit leaves that stack room to spare, so a deeper one raises, never overflows.
RECURSION_LIMIT = 100_000

_LIMIT_GUARD = threading.Lock()
_DEEP_RUNS = 0  # runs in flight: the limit goes back when the last one ends
_SAVED_LIMIT = 0


def with_deep_stack(fn: Callable[[], T]) -> T:
    """`fn()` on a thread with STACK_BYTES of stack and the recursion limit at RECURSION_LIMIT
    (at least); its exception, if any, is raised here."""
    global _DEEP_RUNS, _SAVED_LIMIT
    result: list = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(fn())
        except BaseException as e:  # handed to the caller's thread, re-raised there
            error.append(e)

    thread = threading.Thread(target=run, name="graphmer-resolve", daemon=True)
    with _LIMIT_GUARD:
        if _DEEP_RUNS == 0:
            _SAVED_LIMIT = sys.getrecursionlimit()
            sys.setrecursionlimit(max(_SAVED_LIMIT, RECURSION_LIMIT))
        _DEEP_RUNS += 1
    try:
        with _LIMIT_GUARD:  # the size applies to threads started while it is set
            previous = threading.stack_size(STACK_BYTES)
            try:
                thread.start()
            finally:
                threading.stack_size(previous)
        thread.join()
    finally:
        with _LIMIT_GUARD:
            _DEEP_RUNS -= 1
            if _DEEP_RUNS == 0:
                sys.setrecursionlimit(_SAVED_LIMIT)
    if error:
        raise error[0]
    return result[0]
