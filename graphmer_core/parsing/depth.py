"""A bound on how deeply a file's syntax tree nests, checked after parsing and before any query.

tree-sitter's query engine slows sharply on very deep trees: 40,000 nested calls (80,000 levels)
took 15.8 s to extract and 80,000 took 90 s, while 20,000 take 0.3 s, so one generated file could
hang a build. The default bound sits below where the query engine slows and above an expression
of 10,000 nested calls (two levels each); real code stays far below it: the deepest file of
CPython's stdlib (tests included) is 809 levels deep, of JDK 17's java.base 1,112.
"""

from __future__ import annotations

import os

MAX_DEPTH = 25_000
ENV = "GRAPHMER_MAX_SYNTAX_DEPTH"


class TooDeep(Exception):
    """A file whose syntax tree nests deeper than the bound: it is skipped, not parsed further."""

    def __init__(self, max_depth: int):
        super().__init__(f"nested too deep: syntax tree more than {max_depth:,} levels deep "
                         f"(the bound is ${ENV}, default {MAX_DEPTH:,})")
        self.max_depth = max_depth


def max_depth_setting() -> int:
    """The bound in force: `$GRAPHMER_MAX_SYNTAX_DEPTH`, else MAX_DEPTH."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return MAX_DEPTH
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"${ENV} must be a whole number of levels (at least 1), got {raw!r}")
    return int(raw)


def check_depth(root, max_depth: int) -> None:
    """Raise TooDeep if some node of the tree under `root` lies more than `max_depth` levels down.

    A subtree of n nodes is at most n levels deep, so only children with more nodes than levels
    left are entered (`descendant_count` is stored in the tree): in an ordinary file that is its
    few largest statements, and the walk stops at the first node past the bound.
    """
    if root.descendant_count <= max_depth:
        return
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise TooDeep(max_depth)
        for child in node.children:
            if depth + child.descendant_count > max_depth:
                stack.append((child, depth + 1))
