"""Python syntax facts of one file, from the tree-sitter queries in `queries/python.scm`.

`extract(source)` depends only on the bytes: no module name, no other file. Names are kept as
source text (dotted chains such as `self.parser.parse`); resolution happens in
`graphmer_core.kg.python`.

Facts (all lines 1-based; `scope` is an index into `defs`, -1 for module level):

- `defs`:    `[kind, name, parent_scope, start_line, end_line, decorators, extra, returns]`
             kind "c" (class: extra = base expressions, keyword arguments left out) or "f"
             (function: extra = `[[param_name, annotation | None, star], ...]`, star is "",
             "*" or "**"; returns = return annotation | None). Decorators are the decorator
             expressions with a call's arguments dropped (`functools.wraps(f)` -> "functools.wraps").
- `calls`:   `[scope, line, callee]` callee is a dotted chain, `super().m`, or `<chain>().m`
             (method called on a call's result); other callee shapes are left out.
- `asg`:     `[scope, line, target, rhs_kind, rhs, annotation | None]` for assignments and other
             bindings. target is a name or a dotted chain (`self.x`); rhs_kind is "c" (call of the
             dotted chain rhs), "n" (the dotted name rhs), "N" (None literal), "l" (list/tuple of
             string literals, only for `__all__`), "" (unknown value) or "b" (a binding that is no
             assignment: for-targets, `with ... as x`, `except ... as e`, `x += ...`, walrus).
- `globals`: `[scope, name]` names declared `global` in a function (`nonlocal` names are "b" bindings).
- `imports`: `[scope, line, module, level, names]`; `import a.b as c` -> module None, level -1,
             names [["a.b", "c"]]; `from ..m import x as y, *` -> module "m" ("" for `from .`),
             level 2, names [["x", "y"], ["*", None]].
- `raises`, `catches`: `[scope, line, dotted expression]` (the callee for `raise X(...)`).
- value flow, for the points-to analysis (`graphmer_core.kg.python.points_to`); `expr` is a value
  expression (below) and never None:

  - `flows`:    `[scope, line, target, expr]` an assignment whose right side is no plain dotted name
                or call of one (those are in `asg`); target `x` or `self.x`, or `x[]` for a store
                into the container `x` (`x[k] = v`); `a, b = f, g` gives a row per target;
  - `rets`:     `[scope, expr]` returned expressions;
  - `pcalls`:   `[scope, line, callee, args, kwargs]` call sites with their argument expressions
                (args: expr or None per position, cut at the first `*x`; kwargs: `[[name, expr]]`);
                callee is a value expression (also for shapes `calls` leaves out: `f()()`, `d[k]()`);
  - `fors`:     `[scope, target, expr]` `for target in expr` (a plain name target);
  - `defaults`: `[scope, param, expr]` parameter defaults (scope: the def's own).
  - `conds`:    `[scope, start_line, end_line]` an `if` or `try` statement of a module (scope -1)
                or class body, or a `try` in a function body that catches ImportError,
                NameError or AttributeError: names bound in it are bound on some runs only
                (platform branches, import fallbacks).

  Value expressions are nested lists: `["n", dotted]` a name or attribute chain; `["c", callee]` or
  `["c", callee, args, kwargs]` a call's result (arguments as in `pcalls`, when there are any);
  `["a", expr, attr]` an attribute of another expression, `["g", expr, attr]` the same
  written `getattr(expr, "attr")` or `getattr(expr, "attr", default)`;
  `["i", expr]` an element (`x[k]`), `["i", expr, "k"]` for a string literal key (`x["k"]`);
  `["o", [expr, ...]]` any one of (`a or b`, `a if c else b`);
  `["l", [expr, ...]]` a list, tuple, set or dict (its values), `["l", values, keys]` for a dict
  with string literal keys (a key None where it is no such literal); `["t", expr]` `type(expr)`;
  `["S"]` `super()`.

- `lines`: number of lines; `errors`: count of ERROR and MISSING nodes.
"""

from __future__ import annotations

import builtins
import re
from bisect import bisect_left, bisect_right
from pathlib import Path
from typing import Any

from graphmer_core.parsing.depth import MAX_DEPTH, check_depth

EXTRACTOR_VERSION = "py-9"

_BUILTIN_NAMES = frozenset(n for n in dir(builtins) if not n.startswith("_"))
_GUARDS = re.compile(r"\b(ImportError|ModuleNotFoundError|NameError|AttributeError)\b")
_QUERY_PATH = Path(__file__).with_name("queries") / "python.scm"
MANY_CALLS = 1000  # files with more call sites find their argument lists by a second query (see `_flow`)
_STATE: dict[str, Any] = {}
_DOTTED = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)*")
_SUPER = re.compile(r"super\([^()]*\)\.([^\W\d]\w*)")
# node types `_value` reads; any other (literals, operators, comprehensions, ...) has no value of use
_VALUE_TYPES = frozenset({"identifier", "attribute", "call", "subscript", "conditional_expression",
                          "boolean_operator", "list", "tuple", "set", "expression_list", "dictionary",
                          "parenthesized_expression"})


def _span(node) -> tuple[int, int]:
    """Document order, the outer of two nodes starting at one byte first (`super().m`, then `super`).

    tree-sitter returns such ties in an order that differs between processes, so sorting by the
    start alone left the order of `calls` and `pcalls` rows (and the KG built from them) to chance.
    """
    return node.start_byte, -node.end_byte


def _init() -> dict[str, Any]:
    if not _STATE:
        import tree_sitter as ts
        import tree_sitter_python as tsp

        language = ts.Language(tsp.language())
        _STATE["parser"] = ts.Parser(language)
        _STATE["query"] = ts.Query(language, _QUERY_PATH.read_text())
        _STATE["errors"] = ts.Query(language, "(ERROR) @e (MISSING) @m")
        # every argument list, matched alone: `(call arguments: (argument_list) @a)` keeps a
        # partial match open per call while the callee is walked, quadratic along a chain
        # `a.b(1).b(1)...` (10,000 calls: 2.8 s); `_flow` picks the lists by position
        _STATE["arglists"] = ts.Query(language, "(argument_list) @a")
        _STATE["cursor"] = ts.QueryCursor
    return _STATE


def parse(source: bytes):
    """The tree-sitter tree of `source` (shared parser)."""
    return _init()["parser"].parse(source)


def extract(source: bytes, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """The facts of one file; raises TooDeep (only) for a tree nested deeper than `max_depth`."""
    st = _init()
    tree = st["parser"].parse(source)
    root = tree.root_node
    check_depth(root, max_depth)
    caps = st["cursor"](st["query"]).captures(root)
    errors = 0
    if root.has_error:
        errors = sum(len(v) for v in st["cursor"](st["errors"]).captures(root).values())
    ex = _Extractor(source)
    ex.root = root
    try:
        ex.run(caps)
    except Exception:  # noqa: BLE001 - never raise on weird input: keep what was extracted so far
        errors += 1
    return {
        "lines": source.count(b"\n") + (0 if source.endswith(b"\n") else 1),
        "errors": errors,
        "defs": ex.defs,
        "calls": ex.calls,
        "asg": ex.asg,
        "globals": ex.globals,
        "imports": ex.imports,
        "raises": ex.raises,
        "catches": ex.catches,
        "flows": ex.flows,
        "rets": ex.rets,
        "pcalls": ex.pcalls,
        "fors": ex.fors,
        "defaults": ex.defaults,
        "conds": ex.conds,
    }


class _Extractor:
    def __init__(self, source: bytes):
        self.src = source
        self.defs: list[list[Any]] = []
        self.calls: list[list[Any]] = []
        self.asg: list[list[Any]] = []
        self.globals: list[list[Any]] = []
        self.imports: list[list[Any]] = []
        self.raises: list[list[Any]] = []
        self.catches: list[list[Any]] = []
        self.flows: list[list[Any]] = []
        self.rets: list[list[Any]] = []
        self.pcalls: list[list[Any]] = []
        self.fors: list[list[Any]] = []
        self.defaults: list[list[Any]] = []
        self.conds: list[list[Any]] = []
        # scope intervals [body_start, end) in document order, for `_scopes`
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.parents: list[int] = []
        self.root = None  # the tree's root node, for a second query in files of many calls

    def text(self, node) -> str:
        return self.src[node.start_byte:node.end_byte].decode("utf-8", "replace")

    # --- scopes -----------------------------------------------------------------------------
    def _scopes(self, nodes: list) -> list[int]:
        """Innermost enclosing scope (def index, -1 = module) of each node.

        Scopes nest, so the innermost one holding `pos` is the last scope starting at or before
        `pos`, or the first of its ancestors that has not ended yet.
        """
        starts, ends, parents = self.starts, self.ends, self.parents
        out: list[int] = []
        append = out.append
        for node in nodes:
            pos = node.start_byte
            i = bisect_right(starts, pos) - 1
            while i >= 0 and ends[i] <= pos:
                i = parents[i]
            append(i)
        return out

    def run(self, caps: dict[str, list]) -> None:
        # capture lists are grouped by pattern, not in document order: sort them by start byte, the
        # outer of two nodes starting at one byte first (`super().m` before `super`)
        for nodes in caps.values():
            nodes.sort(key=_span)
        self._defs(caps)
        self.arg_values: dict[int, tuple[list, list]] = {}  # argument list start -> `_arguments`
        self.call_sites: list[tuple] = []
        self._asg(caps)
        self._call(caps.get("call", ()))
        for name in ("bind", "global", "import", "raise", "except"):
            nodes = caps.get(name)
            if nodes:
                getattr(self, "_" + name)(nodes, self._scopes(nodes))
        self._flow(caps)

    def _defs(self, caps: dict[str, list]) -> None:
        nodes = caps.get("def", [])
        if not nodes:
            return
        src = self.src
        names = caps.get("def.name", [])
        bodies = caps.get("def.body", [])
        if len(names) != len(nodes) or len(bodies) != len(nodes):  # error recovery: navigate
            names = [n.child_by_field_name("name") for n in nodes]
            bodies = [n.child_by_field_name("body") for n in nodes]
        starts, ends, parents = self.starts, self.ends, self.parents
        def_starts = []
        rows = self.defs
        for node, name, body in zip(nodes, names, bodies, strict=True):
            pos = node.start_byte
            end = node.end_byte
            i = bisect_right(starts, pos) - 1
            while i >= 0 and ends[i] <= pos:
                i = parents[i]
            parents.append(i)
            starts.append(body.start_byte if body is not None else end)
            ends.append(end)
            def_starts.append(pos)
            is_class = node.type == "class_definition"
            rows.append([
                "c" if is_class else "f",
                src[name.start_byte:name.end_byte].decode("utf-8", "replace") if name is not None else "?",
                i, node.start_point[0] + 1, node.end_point[0] + 1, [], [], None,
            ])
            if is_class:
                sup = node.child_by_field_name("superclasses")
                if sup is not None:
                    bases = rows[-1][6]
                    for b in sup.named_children:
                        if b.type not in ("keyword_argument", "comment", "list_splat", "dictionary_splat"):
                            bases.append(self.text(b))
        # decorators precede their def; signature parts lie between a def's start and its body
        for node in caps.get("decorator", ()):
            i = bisect_left(def_starts, node.end_byte)
            if i < len(rows):
                rows[i][5].append(src[node.start_byte:node.end_byte].decode("utf-8", "replace"))
        for node in caps.get("returns", ()):
            rows[bisect_right(def_starts, node.start_byte) - 1][7] = self.text(node)
        params = []
        for node in caps.get("param", ()):
            params.append((node.start_byte, node.end_byte, None, ""))
        for node in caps.get("param.star", ()):
            params.append((node.start_byte, node.end_byte, None, "*"))
        typed = caps.get("param.typed", ())
        types = caps.get("param.type", ())
        if len(typed) == len(types):
            for node, ann in zip(typed, types, strict=True):
                params.append((node.start_byte, node.end_byte, self.text(ann), ""))
        params.sort()
        for start, end, ann, star in params:
            row = rows[bisect_right(def_starts, start) - 1]
            if row[0] == "f":
                row[6].append([src[start:end].decode("utf-8", "replace"), ann, star])

    # --- references ---------------------------------------------------------------------------
    def _callee(self, node) -> str | None:
        """Normalised callee text: a dotted chain, `super().m` or `<chain>().m`, else None."""
        text = self.src[node.start_byte:node.end_byte].decode("utf-8", "replace")
        if _DOTTED.fullmatch(text):
            return text
        if node.type != "attribute":
            return None
        obj = node.child_by_field_name("object")
        attr = node.child_by_field_name("attribute")
        if obj is None or attr is None or obj.type != "call":
            return None
        attr_text = self.text(attr)
        if _SUPER.fullmatch(text[:obj.end_byte - node.start_byte] + "." + attr_text):
            return "super()." + attr_text
        inner = obj.child_by_field_name("function")
        if inner is None:
            return None
        inner_text = self.text(inner)
        if _DOTTED.fullmatch(inner_text):
            return inner_text + "()." + attr_text
        return None

    def _call(self, nodes: list, _scopes: list[int] | None = None) -> None:
        # the hottest loop: the scope sweep of `_scopes` is inlined
        src, calls, dotted = self.src, self.calls, _DOTTED.fullmatch
        starts, ends, parents = self.starts, self.ends, self.parents
        sites = self.call_sites  # every call, for `pcalls`: (callee node, scope, line, dotted name | None)
        for node in nodes:
            pos = node.start_byte
            text = src[pos:node.end_byte].decode("utf-8", "replace")
            name = text
            if not text.isidentifier() and not dotted(text):
                name = None
                text = self._callee(node)
            i = bisect_right(starts, pos) - 1
            while i >= 0 and ends[i] <= pos:
                i = parents[i]
            line = node.start_point[0] + 1
            sites.append((node, i, line, name))
            if text is not None:
                calls.append([i, line, text])

    def _asg(self, caps: dict[str, list]) -> None:
        """Assignments from the @asg (left side), @asg.type and right-side lists.

        A right side, annotation or callee belongs to the last left side starting before it
        (a chain `a = b = c()` nests the inner assignment as the outer right side).
        """
        lefts = caps.get("asg")
        if not lefts:
            return
        src, dotted = self.src, _DOTTED.fullmatch
        d_starts, d_ends, d_parents = self.starts, self.ends, self.parents
        starts: list[int] = []
        rows: list[list[Any] | None] = []
        chained: list[int] = []
        self.stores: list[tuple] = []
        self.unpacks: dict[int, tuple] = {}  # `a, b = ...` of plain targets: position -> (scope, line, targets)
        for node in lefts:
            pos = node.start_byte
            starts.append(pos)
            scope = bisect_right(d_starts, pos) - 1
            while scope >= 0 and d_ends[scope] <= pos:
                scope = d_parents[scope]
            text = src[pos:node.end_byte].decode("utf-8", "replace")
            if text.isidentifier() or dotted(text):
                row = [scope, node.start_point[0] + 1, text, "", None, None]
                self.asg.append(row)
                rows.append(row)
            elif node.type == "subscript":  # `x[k] = v` stores into x: it binds no name
                rows.append(None)
                obj = node.child_by_field_name("value")
                if obj is not None and dotted(self.text(obj)):
                    self.stores.append((pos, scope, node.start_point[0] + 1, self.text(obj) + "[]"))
            else:
                line = node.start_point[0] + 1
                first = len(self.asg)
                self._unpack(node, scope, line)
                rows.append(None)
                if node.type in ("pattern_list", "tuple_pattern") and all(
                        c.type in ("identifier", "attribute") for c in node.named_children) and \
                        len(self.asg) - first == node.named_child_count:
                    self.unpacks[pos] = (scope, line, [row[2] for row in self.asg[first:]])
        for node in caps.get("asg.type", ()):
            row = rows[bisect_left(starts, node.start_byte) - 1]
            if row is not None:
                row[5] = src[node.start_byte:node.end_byte].decode("utf-8", "replace")
        for node in caps.get("asg.name", ()):
            row = rows[bisect_left(starts, node.start_byte) - 1]
            if row is not None:
                text = src[node.start_byte:node.end_byte].decode("utf-8", "replace")
                if dotted(text):
                    row[3], row[4] = "n", text
        for node in caps.get("asg.none", ()):
            row = rows[bisect_left(starts, node.start_byte) - 1]
            if row is not None:
                row[3] = "N"
        for node in caps.get("asg.chain", ()):
            i = bisect_left(starts, node.start_byte) - 1
            if rows[i] is not None:
                chained.append(i)
        for node in caps.get("asg.list", ()):
            row = rows[bisect_left(starts, node.start_byte) - 1]
            if row is None or row[2] != "__all__" or row[0] != -1:
                continue
            items = []
            for c in node.named_children:
                if c.type != "string" or c.named_child_count > 3:
                    break
                items.append(self.text(c)[1:-1].strip("\"'"))
            else:
                row[3], row[4] = "l", items
        for node in caps.get("asg.callee", ()):
            row = rows[bisect_left(starts, node.start_byte) - 1]
            if row is not None:
                text = self._callee(node)
                if text is not None and text not in ("getattr", "type"):  # those two: a flow (`_value`)
                    row[3], row[4] = "c", text
        chained.sort()
        chained_set = set(chained)
        for i in reversed(chained):
            inner = rows[i + 1] if i + 1 < len(rows) else None
            if inner is not None:
                rows[i][3], rows[i][4] = inner[3], inner[4]
        stores = {pos: (scope, line, target) for pos, scope, line, target in self.stores}
        for node in caps.get("asg.value", ()):
            i = bisect_left(starts, node.start_byte) - 1
            row = rows[i]
            if node.type == "assignment":
                continue  # a chain: the innermost assignment carries the value
            if row is None:
                store = stores.get(starts[i])
                if store is None:
                    self._unpacked(starts[i], node)
                    continue
                scope, line, target = store
            elif row[3] == "":
                scope, line, target = row[0], row[1], row[2]
            else:
                continue
            value = self._value(node)
            if value is not None:
                self.flows.append([scope, line, target, value])
                # `a = b = <value>`: every left side of the chain gets it
                j = i - 1
                while j >= 0 and j in chained_set and rows[j] is not None and rows[j][3] == "":
                    self.flows.append([rows[j][0], rows[j][1], rows[j][2], value])
                    j -= 1

    def _unpacked(self, pos: int, node) -> None:
        """`a, b = f, g` binds each target to the item in its position (no starred targets)."""
        hit = self.unpacks.get(pos)
        if hit is None or node.type not in ("expression_list", "tuple"):
            return
        scope, line, targets = hit
        items = [c for c in node.named_children if c.type != "comment"]
        if len(items) != len(targets):
            return
        for target, item in zip(targets, items, strict=True):
            value = self._value(item)
            if value is not None:
                self.flows.append([scope, line, target, value])

    # --- value flow -------------------------------------------------------------------------------
    def _value(self, node, depth: int = 0):
        """The value expression of `node` (see the module docstring), None when it is of no use."""
        t = node.type
        if t not in _VALUE_TYPES:
            return None
        if t == "identifier" or t == "attribute":
            text = self.src[node.start_byte:node.end_byte].decode("utf-8", "replace")
            if text.isidentifier() or _DOTTED.fullmatch(text):
                return ["n", text]
            if t == "identifier" or depth > 4:
                return None
            obj = self._value(node.child_by_field_name("object"), depth + 1)
            attr = node.child_by_field_name("attribute")
            return None if obj is None or attr is None else ["a", obj, self.text(attr)]
        if depth > 4:
            return None
        if t == "call":
            fn = node.child_by_field_name("function")
            if fn is None:
                return None
            if fn.type == "identifier":
                name = self.text(fn)
                if name in ("super", "getattr", "type"):
                    args = node.child_by_field_name("arguments")
                    items = [c for c in args.named_children if c.type != "comment"] if args is not None else []
                    if name == "super":
                        return ["S"]
                    if name == "type" and len(items) == 1:
                        inner = self._value(items[0], depth + 1)
                        return None if inner is None else ["t", inner]
                    if name == "getattr" and len(items) in (2, 3) and items[1].type == "string":
                        # a default is what a missing attribute gives: left out (`getattr(master,
                        # "tk", master)` is master.tk wherever master has one)
                        lit = self.text(items[1])[1:-1]
                        inner = self._value(items[0], depth + 1)
                        return ["g", inner, lit] if inner is not None and lit.isidentifier() else None
            callee = self._value(fn, depth + 1)
            if callee is None:
                return None
            args, kwargs = self._arguments(node.child_by_field_name("arguments"), depth + 1)
            return ["c", callee, args, kwargs] if args or kwargs else ["c", callee]
        if t == "subscript":
            inner = self._value(node.child_by_field_name("value"), depth + 1)
            if inner is None:
                return None
            sub = node.child_by_field_name("subscript")
            if sub is not None and sub.type == "slice":
                return inner  # `xs[1:]` holds what xs holds
            key = self._key(sub)
            return ["i", inner] if key is None else ["i", inner, key]
        if t in ("conditional_expression", "boolean_operator"):
            kids = node.named_children
            if t == "conditional_expression":
                kids = kids[:1] + kids[2:]
            items = [v for v in (self._value(c, depth + 1) for c in kids) if v is not None]
            return ["o", items] if items else None
        if t in ("list", "tuple", "set", "expression_list"):
            items = [v for v in (self._value(c, depth + 1) for c in node.named_children) if v is not None]
            return ["l", items] if items else None
        if t == "dictionary":
            items = []
            keys = []
            for pair in node.named_children:
                if pair.type == "pair":
                    v = pair.child_by_field_name("value")
                    v = self._value(v, depth + 1) if v is not None else None
                    if v is not None:
                        items.append(v)
                        keys.append(self._key(pair.child_by_field_name("key")))
            if not items:
                return None
            return ["l", items, keys] if any(k is not None for k in keys) else ["l", items]
        if t == "parenthesized_expression" and node.named_child_count == 1:
            return self._value(node.named_children[0], depth)
        return None

    def _key(self, node) -> str | None:
        """A plain one-line string literal's text (`'b'` -> "b"), else None."""
        if node is None or node.type != "string":
            return None
        text = self.text(node)
        q = text[:1]
        if len(text) < 3 or q not in ("'", '"') or text[-1] != q or text.startswith(q * 3) or "\\" in text:
            return None
        return text[1:-1]

    def _arguments(self, node, depth: int = 0) -> tuple[list, list]:
        """The value expressions of an argument list: positional ones (None where of no use, cut
        at the first `*x`, trailing Nones dropped) and `[[keyword, expr]]`. Memoised per list: a
        call's arguments serve both its `pcalls` row and a value expression holding the call."""
        if node is None or node.type != "argument_list":
            return [], []
        hit = self.arg_values.get(node.start_byte)
        if hit is not None:
            return hit
        args: list = []
        kwargs: list = []
        value, src, types = self._value, self.src, _VALUE_TYPES
        positional = True
        for c in node.named_children:  # the hottest loop of `pcalls`: plain names and literals inline
            t = c.type
            if t == "identifier":
                if positional:
                    text = src[c.start_byte:c.end_byte].decode("utf-8", "replace")
                    args.append(["n", text] if text.isidentifier() else value(c, depth))
            elif t == "keyword_argument":
                k, v = c.child_by_field_name("name"), c.child_by_field_name("value")
                v = value(v, depth) if v is not None and v.type in types else None
                if v is not None and k is not None:
                    kwargs.append([self.text(k), v])
            elif t == "list_splat" or t == "dictionary_splat":
                positional = False
            elif positional and t != "comment":
                args.append(value(c, depth) if t in types else None)
        while args and args[-1] is None:
            args.pop()
        self.arg_values[node.start_byte] = args, kwargs
        return args, kwargs

    def _guards(self, node) -> bool:
        """Whether a `try` statement catches a missing module or name (an environment test)."""
        for c in node.named_children:
            if c.type == "except_clause":
                head = c.named_children[0] if c.named_children else None
                if head is not None and head.type != "block" and _GUARDS.search(self.text(head)):
                    return True
        return False

    def _unbound_builtins(self) -> frozenset:
        """Builtin names this file binds nowhere (no def, parameter, assignment, import, star import)."""
        if any(["*", None] in row[4] for row in self.imports):
            return frozenset()
        bound = {row[1] for row in self.defs}
        bound.update(p[0] for row in self.defs if row[0] == "f" for p in row[6])
        bound.update(row[2] for row in self.asg)
        for row in self.imports:
            for name, alias in row[4]:
                bound.add(alias or name.partition(".")[0])
        return _BUILTIN_NAMES - bound

    def _flow(self, caps: dict[str, list]) -> None:
        value = self._value
        nodes = caps.get("cond", ())
        for node, scope in zip(nodes, self._scopes(nodes), strict=True):
            if scope >= 0 and self.defs[scope][0] == "f" and (node.type != "try_statement" or not self._guards(node)):
                continue
            self.conds.append([scope, node.start_point[0] + 1, node.end_point[0] + 1])
        nodes = caps.get("ret", ())
        for node, scope in zip(nodes, self._scopes(nodes), strict=True):
            v = value(node)
            if v is not None and scope >= 0:
                self.rets.append([scope, v])
        lefts, rights = caps.get("for.left", ()), caps.get("for.right", ())
        if len(lefts) == len(rights):
            for left, right, scope in zip(lefts, rights, self._scopes(lefts), strict=True):
                if left.type == "identifier":
                    v = value(right)
                    if v is not None:
                        self.fors.append([scope, self.text(left), v])
        names, values = caps.get("default.name", ()), caps.get("default.value", ())
        if len(names) == len(values):
            def_starts = [d for d in self.starts]
            for name, node in zip(names, values, strict=True):
                v = value(node)
                if v is None:
                    continue
                # the def whose signature holds the default: the last scope starting before its body
                scope = bisect_right(def_starts, name.start_byte)
                self.defaults.append([scope, self.text(name), v])
        builtin = self._unbound_builtins()
        src = self.src
        # Node.next_named_sibling and .parent walk down from the root, so asking them per call is
        # quadratic in the nesting depth (10,000 nested calls took 6 s): in a file of many calls,
        # each argument list is found by where it starts (just after its callee) instead.
        arglists = None
        if len(self.call_sites) >= MANY_CALLS and self.root is not None:
            found = _STATE["cursor"](_STATE["arglists"]).captures(self.root).get("a", ())
            arglists = {a.start_byte: a for a in found}
        for fn, scope, line, name in self.call_sites:
            if name is not None:
                if name in builtin:
                    continue  # `len(x)`, `isinstance(x, T)`: no parameter of the corpus to reach
                if src[fn.end_byte:fn.end_byte + 2] == b"()":
                    continue  # no arguments: no row (and navigating to the list costs more than this)
                callee = ["n", name]
            else:
                callee = value(fn)
                if callee is None:
                    continue
            if arglists is not None:
                at = fn.end_byte
                while src[at:at + 1] in (b" ", b"\t", b"\n", b"\r", b"\\"):
                    at += 1
                argl = arglists.get(at)
            else:
                argl = fn.next_named_sibling
            if argl is None or argl.type != "argument_list":  # a comment before it; `f(x for x in y)`
                argl = fn.parent.child_by_field_name("arguments")
                if argl is None or argl.type != "argument_list":
                    continue  # `f(x for x in y)`
            args, kwargs = self._arguments(argl)
            if args or kwargs or callee[0] != "n":
                self.pcalls.append([scope, line, callee, args, kwargs])

    def _unpack(self, node, scope: int, line: int, kind: str = "") -> None:
        for c in node.named_children:
            t = c.type
            if t in ("identifier", "attribute"):
                text = self.text(c)
                if _DOTTED.fullmatch(text):
                    self.asg.append([scope, line, text, kind, None, None])
            elif t in ("pattern_list", "tuple_pattern", "list_pattern", "tuple", "list", "list_splat_pattern",
                       "parenthesized_expression"):
                self._unpack(c, scope, line, kind)

    def _bind(self, nodes: list, scopes: list[int]) -> None:
        for node, scope in zip(nodes, scopes, strict=True):
            line = node.start_point[0] + 1
            if node.type == "as_pattern_target":
                if not node.named_child_count:
                    continue
                node = node.named_children[0]
            if node.type == "identifier":
                self.asg.append([scope, line, self.text(node), "b", None, None])
            else:
                self._unpack(node, scope, line, "b")

    def _global(self, nodes: list, scopes: list[int]) -> None:
        for node, scope in zip(nodes, scopes, strict=True):
            self.globals.append([scope, self.text(node)])

    def _import(self, nodes: list, scopes: list[int]) -> None:
        for node, scope in zip(nodes, scopes, strict=True):
            line = node.start_point[0] + 1
            names = []
            module = None
            level = -1
            if node.type == "import_from_statement":
                mod = node.child_by_field_name("module_name")
                level = 0
                module = ""
                if mod is not None:
                    if mod.type == "relative_import":
                        for c in mod.named_children:
                            if c.type == "import_prefix":
                                level = c.end_byte - c.start_byte
                            elif c.type == "dotted_name":
                                module = self.text(c)
                    else:
                        module = self.text(mod)
                for c in node.named_children:
                    if c.type == "wildcard_import":
                        names.append(["*", None])
            for c in node.children_by_field_name("name"):
                if c.type == "aliased_import":
                    n = c.child_by_field_name("name")
                    a = c.child_by_field_name("alias")
                    if n is not None:
                        names.append([self.text(n), self.text(a) if a is not None else None])
                else:
                    names.append([self.text(c), None])
            names = [[n.replace(" ", ""), a] for n, a in names]
            self.imports.append([scope, line, module.replace(" ", "") if module else module, level, names])

    def _exc_expr(self, node) -> list[str]:
        t = node.type
        if t == "call":
            fn = node.child_by_field_name("function")
            return self._exc_expr(fn) if fn is not None else []
        if t in ("identifier", "attribute"):
            text = self.text(node)
            return [text] if _DOTTED.fullmatch(text) else []
        if t in ("tuple", "parenthesized_expression", "expression_list"):
            out = []
            for c in node.named_children:
                out.extend(self._exc_expr(c))
            return out
        if t == "as_pattern" and node.named_child_count:
            return self._exc_expr(node.named_children[0])
        return []

    def _raise(self, nodes: list, scopes: list[int]) -> None:
        for node, scope in zip(nodes, scopes, strict=True):
            if not node.named_child_count:
                continue
            expr = node.named_children[0]
            if expr.type in ("tuple", "parenthesized_expression", "expression_list"):
                continue
            for text in self._exc_expr(expr):
                self.raises.append([scope, node.start_point[0] + 1, text])

    def _except(self, nodes: list, scopes: list[int]) -> None:
        for node, scope in zip(nodes, scopes, strict=True):
            line = node.start_point[0] + 1
            for c in node.named_children:
                if c.type == "block":
                    break
                for text in self._exc_expr(c):
                    self.catches.append([scope, line, text])
                break
