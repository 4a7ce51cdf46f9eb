"""A Pipes message reader that never parses half a message.

Dagster's file reader hands `json.loads` whatever `readline()` returns. The kernel grows a file
page by page while one append runs, so a message that crosses a page boundary can be read half
written: the reader thread died with JSONDecodeError mid-training and every later message (log
lines, metrics, the closing one) was lost. This reader keeps a partial line until its newline.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dagster as dg
from dagster._core.pipes.utils import PipesFileMessageReader


def whole_lines(path: str, should_stop: Callable[[], bool]) -> Iterator[str]:
    """Lines of a file another process appends to, each yielded once its newline is there."""
    pending = ""
    with open(path, encoding="utf-8") as stream:
        while True:
            part = stream.readline()
            if part:
                pending += part
                if pending.endswith("\n"):
                    yield pending
                    pending = ""
            elif should_stop():
                return
            else:
                time.sleep(0.01)


class _WholeLineFileReader(PipesFileMessageReader):
    def _reader_thread(self, handler, is_resource_complete) -> None:
        try:
            for line in whole_lines(self._path, is_resource_complete.is_set):
                handler.handle_message(json.loads(line))
        except BaseException:
            handler.report_pipes_framework_exception(f"{self.__class__.__name__} reader thread", sys.exc_info())
            raise


class WholeLineTempFileMessageReader(dg.PipesTempFileMessageReader):
    """PipesTempFileMessageReader, reading whole lines only."""

    @contextmanager
    def read_messages(self, handler) -> Iterator[dict]:
        with tempfile.TemporaryDirectory() as folder:
            reader = _WholeLineFileReader(os.path.join(folder, "messages"),
                                          include_stdio_in_messages=self._include_stdio_in_messages)
            with reader.read_messages(handler) as params:
                yield params
