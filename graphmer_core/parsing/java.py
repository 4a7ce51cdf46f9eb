"""Java syntax facts of one file, from one combined tree-sitter query (queries/java.scm).

`extract(source) -> facts` depends only on the bytes. Facts are compact lists of plain data:

- ``package``: dotted name, "" for the unnamed package.
- ``imports``: ``[name, static(0/1), on_demand(0/1), line]``.
- ``types``: ``[kind, name, outer, start, end, type_params, superclass, interfaces, annotations]``;
  kind is class|interface|enum|record|annotation, ``outer`` the index of the enclosing type or -1,
  ``superclass`` "" when none, ``interfaces`` the implemented (or, for interfaces, extended) types.
- ``methods``: ``[owner, name, start, end, params, return, throws, type_params, annotations, flags]``;
  constructors are named ``<init>`` with return "", params are ``[type, name]``. flags: ``s`` static,
  ``p`` private, ``v`` varargs, ``c`` constructor.
- ``fields``: ``[owner, name, start, end, type, annotations, flags]``; flag ``e`` = enum constant
  (type ""), ``r`` = record component.
- ``calls``: ``[scope, name, receiver_kind, receiver, argc, arg_kinds, line, anonymous]``. receiver_kind:
  "" unqualified, ``this``, ``super``, ``id`` (a simple name), ``tf`` (``this.f``), ``q`` (dotted
  names ``a.b.c``), ``new`` (``new T(..).m()``, receiver = T), ``call`` (receiver = index of the
  inner call in ``calls``, always the previous row), ``cast`` (``((T) x).m()``), ``str`` (string literal), ``?`` other.
  ``this(..)``/``super(..)`` are calls named ``<init>``. arg_kinds: a literal kind per argument
  (int, long, double, float, char, boolean, String, null) or "". ``anonymous``: the supertype
  (as written) of the innermost anonymous class body around the call, ``<enum>`` for an enum
  constant body, "" outside anonymous classes.
- ``news``: ``[scope, type, argc, line, anonymous(0/1)]``; ``throw_news``: ``[scope, type, line]``;
  ``catches``: ``[scope, [types], line]``; ``locals``: ``[scope, name, type, var_new_type]``
  (``var x = new T()`` gives type "var" and var_new_type "T"; lambda parameters without a
  declared type have type "?"). Locals include parameters of lambdas, catch clauses and for-each.
- ``mrefs``: method references ``[scope, receiver_kind, receiver, name, line, anonymous]``
  (``T::m``, ``x::m``, ``a.b::m`` as id/q, ``this::m``, ``super::m``; name ``new`` for ``T::new``).
- ``lambdas``: ``[scope, [names], [declared types, "?" when inferred], call row, argument position,
  enclosing lambda, target]``; call row -1 when the lambda is no call argument, then ``target`` is
  what it is assigned to, as an argument kind (``c:T`` a declared local/field type or a cast, ``n:x``
  / ``q:this.x`` an assigned variable, ``r`` the method's return type), or ``ctor:<news row>:<position>``
  for an argument of ``new T(..)``; "" when none of these.
- ``errors``: number of ERROR/MISSING nodes.

A ``scope`` is a method index (>= 0) or ``-(type index) - 1`` for code directly in a type body
(field initialisers, initializer blocks). Members of anonymous classes are folded into the
enclosing scope (no entities for them). Type strings are as written, generic arguments and
annotations stripped, whitespace removed, varargs ``T...`` written ``T[]``.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any

from graphmer_core.parsing.depth import MAX_DEPTH, TooDeep, check_depth

EXTRACTOR_VERSION = "java-8"

_QUERY_FILE = Path(__file__).with_name("queries") / "java.scm"
_STATE: dict[str, Any] = {}

_TYPE_KIND = {
    "class_declaration": "class", "interface_declaration": "interface",
    "enum_declaration": "enum", "record_declaration": "record",
    "annotation_type_declaration": "annotation",
}
_PRIMITIVE_NODES = frozenset({"integral_type", "floating_point_type", "boolean_type"})
_COMMENTS = frozenset({"line_comment", "block_comment"})
_LITERALS = {
    "decimal_integer_literal": "int", "hex_integer_literal": "int", "octal_integer_literal": "int",
    "binary_integer_literal": "int", "decimal_floating_point_literal": "double",
    "hex_floating_point_literal": "double", "string_literal": "String", "text_block": "String",
    "character_literal": "char", "true": "boolean", "false": "boolean", "null_literal": "null",
}
_GENERIC = re.compile(r"<[^<>]*>")
_ANNOT = re.compile(r"@[\w$.]+(?:\([^()]*\))?")
_DOTTED = re.compile(r"[\w$]+(?:\s*\.\s*[\w$]+)*")
_KEY2 = itemgetter(0, 1)
_POS = attrgetter("start_byte", "end_byte")
_BODY_START = re.compile(r"[{;]")
_BODY_START_B = re.compile(rb"[{;]")
_THROWS = re.compile(r"\bthrows\b")
_ANNOT_NAME = re.compile(r"@\s*([\w$]+(?:\s*\.\s*[\w$]+)*)")
_TRAILING_NAME = re.compile(r"[\w$]+$")
_MODIFIERS = frozenset({"public", "protected", "private", "static", "abstract", "final", "native",
                        "synchronized", "transient", "volatile", "strictfp", "default", "sealed",
                        "non-sealed"})
_COMPLEX_ARGS = re.compile(r"[()\"'{}<\[/@]")
_LITERAL_ARG = re.compile(r"(?:^|,)\s*(?:[-+]?\.?\d|true\b|false\b|null\b)")
_NUMBER = re.compile(r"[-+]?(?:0[xXbB][0-9a-fA-F_]+[lL]?|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][-+]?\d+)?[lLfFdD]?)")
_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_WORD = re.compile(r"\s*([\w$]+)")
_STATIC = re.compile(r"\bstatic\b")
_PRIVATE = re.compile(r"\bprivate\b")


def _state() -> dict[str, Any]:
    """Language, parser and query, built once per process."""
    if not _STATE:
        import tree_sitter_java
        from tree_sitter import Language, Parser, Query

        lang = Language(tree_sitter_java.language())
        _STATE["parser"] = Parser(lang)
        _STATE["query"] = Query(lang, _QUERY_FILE.read_text())
        _STATE["errors"] = Query(lang, "(ERROR) @e (MISSING) @m")
    return _STATE


def _strip_generics(s: str) -> str:
    """Remove (nested) generic arguments: innermost `<...>` first, until none is left."""
    while "<" in s:
        stripped = _GENERIC.sub("", s)
        if stripped == s:
            break
        s = stripped
    return s


def norm_type(t: str) -> str:
    """A type as written, without generic arguments, annotations and whitespace; `T...` -> `T[]`."""
    if "@" in t:
        t = _ANNOT.sub("", t)
    t = _strip_generics(t)
    if " " in t or "\n" in t or "\t" in t or "\r" in t:
        t = "".join(t.split())
    if t.endswith("..."):
        t = t[:-3] + "[]"
    return t


def generic_type(t: str) -> str:
    """A type as written with its generic arguments kept (annotations, comments and whitespace
    removed, `T...` -> `T[]`; wildcards read `?extendsT`, `?superT`, `?`), or "" when it has none."""
    if "<" not in t:
        return ""
    if "/" in t:
        t = _COMMENT.sub(" ", t)
    if "@" in t:
        t = _ANNOT.sub("", t)
    t = "".join(t.split())
    if t.endswith("..."):
        t = t[:-3] + "[]"
    return t


def _split_top(s: str) -> list[str]:
    """Split at the commas outside <...> and (...)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(s[start:i])
            start = i + 1
    out.append(s[start:])
    return out


def _tbounds(text: str) -> list[list[Any]]:
    """`<K extends A & B<K>, V>` -> [[K, [A, B<K>]]]: the type parameters that have bounds."""
    if "/" in text:
        text = _COMMENT.sub(" ", text)
    if "@" in text:
        text = _ANNOT.sub(" ", text)
    out = []
    for part in _split_top(text.strip()[1:-1]):
        name, sep, bound = part.strip().partition(" extends ")
        if not sep:
            toks = part.split(None, 2)
            if len(toks) < 3 or toks[1] != "extends":
                continue
            name, bound = toks[0], toks[2]
        bs = [generic_type(b) or "".join(b.split()) for b in bound.split("&")]
        if name.strip() and all(bs):
            out.append([name.strip(), bs])
    return out


_GPARAM = re.compile(r"(.*?)([\w$]+)\s*((?:\[\s*\]\s*)*)$", re.S)


def _gparams(text: str) -> list[str]:
    """Generic parameter types of `(Map<K, V> m, List<T>... r)`, aligned with _params' rows."""
    s = text[1:-1]
    if "/" in s:
        s = _COMMENT.sub(" ", s)
    if "@" in s:
        s = _ANNOT.sub(" ", s)
    out = []
    for part in _split_top(s):
        m = _GPARAM.match(part.strip())
        if m is None:
            continue
        ty, name, dims = m.group(1).strip(), m.group(2), m.group(3)
        while ty.startswith("final ") or ty == "final":
            ty = ty[5:].strip()
        if not ty or name == "this":
            continue
        ty = "".join(ty.split()) + "[]" * dims.count("[")
        if ty.endswith("..."):
            ty = ty[:-3] + "[]"
        out.append(ty if "<" in ty else "")
    return out


def extract(source: bytes, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Facts of one Java compilation unit; never raises on malformed input, only TooDeep for a
    tree nested deeper than `max_depth`."""
    try:
        return _extract(source, max_depth)
    except TooDeep:
        raise
    except Exception as exc:  # pragma: no cover - defensive: facts must always come back
        return {"package": "", "imports": [], "types": [], "methods": [], "fields": [],
                "calls": [], "news": [], "throw_news": [], "catches": [], "locals": [], "mrefs": [],
                "lambdas": [],
                "errors": 1, "failure": f"{type(exc).__name__}: {exc}"}


def _extract(source: bytes, max_depth: int) -> dict[str, Any]:
    from tree_sitter import QueryCursor

    st = _state()
    tree = st["parser"].parse(source)
    root = tree.root_node
    check_depth(root, max_depth)
    # captures() does not return nodes in document order (nor the same order on every run):
    # sort each list by (start, end) so that facts are deterministic; a chained call's receiver
    # `a.b()` in `a.b().c()` (same start, smaller end) then sorts right before it.
    caps = QueryCursor(st["query"]).captures(root)
    for v in caps.values():
        v.sort(key=_POS)

    if source.isascii():
        text = source.decode("ascii")

        def tx(n: Any) -> str:
            return text[n.start_byte:n.end_byte]

        def sl(a: int, b: int) -> str:
            return text[a:b]

        def until_body(a: int) -> str:
            m = _BODY_START.search(text, a)
            return text[a:m.start() if m else len(text)]
    else:
        def tx(n: Any) -> str:
            return source[n.start_byte:n.end_byte].decode("utf-8", "replace")

        def sl(a: int, b: int) -> str:
            return source[a:b].decode("utf-8", "replace")

        def until_body(a: int) -> str:
            m = _BODY_START_B.search(source, a)
            return source[a:m.start() if m else len(source)].decode("utf-8", "replace")

    def tparams(n: Any) -> list[str]:
        tp = n.child_by_field_name("type_parameters")
        return [] if tp is None else _tparams(tx(tp))

    def modifiers(n: Any) -> tuple[list[list[Any]], str]:
        m = n.child(0)
        if m is None or m.type != "modifiers":
            return [], ""
        mt = tx(m)
        annots: list[list[Any]] = []
        if "@" in mt:
            for a in m.named_children:
                if a.type in ("marker_annotation", "annotation"):
                    an = a.child_by_field_name("name")
                    if an is not None:
                        annots.append([norm_type(tx(an)), a.start_point[0] + 1])
        flags = ""
        if "static" in mt and _STATIC.search(mt):
            flags += "s"
        if "private" in mt and _PRIVATE.search(mt):
            flags += "p"
        return annots, flags

    package = ""
    for n in caps.get("package", ()):
        for c in n.named_children:
            if c.type in ("identifier", "scoped_identifier"):
                package = "".join(tx(c).split())
                break
        break

    imports = []
    for n in caps.get("import", ()):
        t = tx(n)
        static = 0
        body = "".join(t[len("import"):].rstrip().rstrip(";").split())
        if body.startswith("static") and n.child_count > 1 and n.child(1).type == "static":
            static, body = 1, body[len("static"):]
        on_demand = 0
        if body.endswith(".*"):
            on_demand, body = 1, body[:-2]
        if body:
            imports.append([body, static, on_demand, n.start_point[0] + 1])

    types: list[list[Any]] = []
    methods: list[list[Any]] = []
    fields: list[list[Any]] = []
    folded_locals: list[list[Any]] = []  # parameters and fields of anonymous classes

    # Pass 1: scopes (types, methods, anonymous class bodies) in document order, flattened into
    # segments: the innermost scope at byte b is codes[bisect_right(bounds, b) - 1].
    news_n = caps.get("new", ())
    scopes = [(n.start_byte, -n.end_byte, 0, n) for n in caps.get("type", ())]
    scopes += [(n.start_byte, -n.end_byte, 1, n) for n in caps.get("method", ())]
    for n in news_n:
        if source[n.end_byte - 1] != 125:  # no `}` at the end: no anonymous class body
            continue
        body = n.named_child(n.named_child_count - 1)
        if body is not None and body.type == "class_body":
            ty = n.child_by_field_name("type")
            scopes.append((body.start_byte, -body.end_byte, 2, norm_type(tx(ty)) if ty else "?"))
    for n in caps.get("enum_constant", ()):
        body = n.child_by_field_name("body") if source[n.end_byte - 1] == 125 else None
        if body is not None:
            scopes.append((body.start_byte, -body.end_byte, 2, "<enum>"))
    scopes.sort(key=_KEY2)
    bounds: list[int] = [0]
    codes: list[Any] = [None]
    kinds: list[str] = [""]
    anons: list[str] = [""]  # supertype of the innermost anonymous class body, as written
    # stack entries: (end_byte, kind, index, code, anon); kind "t" type, "m" method, "a" anonymous
    stack: list[tuple[int, str, int, Any, str]] = []
    for start, neg_end, what, n in scopes:
        while stack and stack[-1][0] <= start:
            e = stack.pop()[0]
            bounds.append(e)
            if stack:
                codes.append(stack[-1][3])
                kinds.append(stack[-1][1])
                anons.append(stack[-1][4])
            else:
                codes.append(None)
                kinds.append("")
                anons.append("")
        top = stack[-1] if stack else None
        if what == 0:
            outer = -1
            for e2 in reversed(stack):
                if e2[1] == "t":
                    outer = e2[2]
                    break
            idx = len(types)
            types.append(_type_row(n, outer, tx, tparams, modifiers, fields, idx))
            entry = (-neg_end, "t", idx, -idx - 1, "")
        elif what == 2:
            if top is None:
                continue
            entry = (-neg_end, "a", -1, top[3], n)
        else:
            if top is None or top[1] != "t":  # in an anonymous class body: folded into the scope
                ps = n.child_by_field_name("parameters") if top is not None else None
                if ps is not None:  # its parameters become locals of the enclosing scope
                    folded_locals.extend([top[3], p[1], p[0], ""] for p in _params(tx(ps))[0])
                continue
            idx = len(methods)
            methods.append(_method_row(n, top[2], sl, until_body, fields))
            entry = (-neg_end, "m", idx, idx, "")
        stack.append(entry)
        bounds.append(start)
        codes.append(entry[3])
        kinds.append(entry[1])
        anons.append(entry[4])
    while stack:
        e = stack.pop()[0]
        bounds.append(e)
        codes.append(stack[-1][3] if stack else None)
        kinds.append(stack[-1][1] if stack else "")
        anons.append(stack[-1][4] if stack else "")

    # Pass 2: members and references, each attributed to its innermost scope.
    for n in caps.get("field", ()):
        i = bisect_right(bounds, n.start_byte) - 1
        if kinds[i] != "t":
            if kinds[i] == "a":  # a field of an anonymous class: a local of the enclosing scope
                ty = n.child_by_field_name("type")
                tyt = norm_type(tx(ty)) if ty is not None else "?"
                for d in n.children_by_field_name("declarator"):
                    dn = d.child_by_field_name("name")
                    if dn is not None:
                        folded_locals.append([codes[i], tx(dn), tyt, ""])
            continue
        annots, flags = modifiers(n)
        ty = n.child_by_field_name("type")
        tyt = norm_type(tx(ty)) if ty is not None else ""
        gt = generic_type(tx(ty)) if ty is not None else ""
        sl, el = n.start_point[0] + 1, n.end_point[0] + 1
        for d in n.children_by_field_name("declarator"):
            dn = d.child_by_field_name("name")
            if dn is not None:
                fields.append([-codes[i] - 1, tx(dn), sl, el, tyt, annots, flags, gt])
    for n in caps.get("enum_constant", ()):
        i = bisect_right(bounds, n.start_byte) - 1
        dn = n.child_by_field_name("name")
        if kinds[i] == "t" and dn is not None:
            annots, _flags = modifiers(n)
            fields.append([-codes[i] - 1, tx(dn), n.start_point[0] + 1, n.end_point[0] + 1, "",
                           annots, "se", ""])

    # Calls: one row per captured invocation (scope None outside any type), so the receiver
    # `a.b()` of a chained call `a.b().c()` at row k is row k - 1.
    calls: list[list[Any]] = []
    call_nodes = caps.get("call", ())
    call_rows = {(n.start_byte, n.end_byte): k for k, n in enumerate(call_nodes)}
    # lambdas: the innermost one around byte b is lam_codes[bisect_right(lam_bounds, b) - 1]
    lam_nodes = caps.get("lambda", ())
    ancestry = _Ancestry(root)
    lam_bounds: list[int] = [0]
    lam_codes: list[int] = [-1]
    lam_parent: list[int] = []
    lstack: list[tuple[int, int]] = []
    for li, n in enumerate(lam_nodes):
        while lstack and lstack[-1][0] <= n.start_byte:
            lam_bounds.append(lstack.pop()[0])
            lam_codes.append(lstack[-1][1] if lstack else -1)
        lam_parent.append(lstack[-1][1] if lstack else -1)
        lstack.append((n.end_byte, li))
        lam_bounds.append(n.start_byte)
        lam_codes.append(li)
    while lstack:
        lam_bounds.append(lstack.pop()[0])
        lam_codes.append(lstack[-1][1] if lstack else -1)
    for k, n in enumerate(call_nodes):
        start = n.start_byte
        i = bisect_right(bounds, start) - 1
        scope = codes[i]
        name_n = n.child_by_field_name("name")
        obj = n.child_by_field_name("object")
        rk, rv = "", ""
        if obj is not None:
            ot = obj.type
            if ot == "identifier":
                rk, rv = "id", tx(obj)
            elif ot == "field_access":
                ft = tx(obj)
                if _DOTTED.fullmatch(ft):
                    ft = "".join(ft.split())
                    if ft.startswith("this.") and ft.count(".") == 1:
                        rk, rv = "tf", ft[5:]
                    else:
                        rk, rv = "q", ft
                else:
                    rk = "?"
            elif ot == "method_invocation":
                prv = call_nodes[k - 1] if k else None
                if prv is not None and prv.end_byte == obj.end_byte and prv.start_byte == start:
                    rk, rv = "call", k - 1
                else:
                    rk = "?"
            elif ot == "this" or ot == "super":
                rk = ot
            elif ot == "object_creation_expression":
                ty = obj.child_by_field_name("type")
                if ty is not None and obj.child(0).type == "new":
                    rk, rv = "new", norm_type(tx(ty))
                else:
                    rk = "?"
            elif ot == "string_literal" or ot == "text_block":
                rk = "str"
            elif ot == "class_literal":
                rk = "cls"
            elif ot == "array_access":
                a = obj.child_by_field_name("array")
                rk, rv = ("ai", tx(a)) if a is not None and a.type == "identifier" else ("?", "")
            elif ot == "parenthesized_expression":
                c = obj.named_child(0)
                ty = c.child_by_field_name("type") if c is not None and c.type == "cast_expression" else None
                rk, rv = ("cast", norm_type(tx(ty))) if ty is not None else ("?", "")
            else:
                rk = "?"
        args = n.child_by_field_name("arguments")
        argc, akinds = _args(args, tx, call_rows) if args is not None else (0, [])
        calls.append([scope, tx(name_n) if name_n is not None else "?", rk, rv, argc, akinds,
                      n.start_point[0] + 1, anons[i],
                      lam_codes[bisect_right(lam_bounds, start) - 1] if lam_nodes else -1])
    for n in caps.get("ctor_call", ()):
        scope = codes[bisect_right(bounds, n.start_byte) - 1]
        if scope is None:
            continue
        c = n.child_by_field_name("constructor")
        rk = c.type if c is not None and c.type in ("this", "super") else "?"
        argc, akinds = _args(n.child_by_field_name("arguments"), tx, call_rows)
        calls.append([scope, "<init>", rk, "", argc, akinds, n.start_point[0] + 1, "", -1])

    mrefs: list[list[Any]] = []
    for n in caps.get("mref", ()):
        i = bisect_right(bounds, n.start_byte) - 1
        if codes[i] is None or n.child_count < 3:
            continue
        obj, name_n = n.child(0), n.child(n.child_count - 1)
        ot = obj.type
        if ot == "identifier":
            rk, rv = "id", tx(obj)
        elif ot in ("field_access", "scoped_type_identifier", "scoped_identifier") and _DOTTED.fullmatch(tx(obj)):
            rk, rv = "q", "".join(tx(obj).split())
        elif ot in ("this", "super"):
            rk, rv = ot, ""
        else:
            continue
        mrefs.append([codes[i], rk, rv, tx(name_n), n.start_point[0] + 1, anons[i]])

    news: list[list[Any]] = []
    new_rows: dict[tuple[int, int], int] = {}  # object creation span -> its row in news
    for n in news_n:
        scope = codes[bisect_right(bounds, n.start_byte) - 1]
        ty = n.child_by_field_name("type")
        if scope is None or ty is None or n.child(0).type != "new":
            continue  # `outer.new Inner()`: the type is relative to an expression
        argc, akinds = _args(n.child_by_field_name("arguments"), tx, call_rows)
        anon = 1 if source[n.end_byte - 1] == 125 else 0  # ends with `}`: a class body
        new_rows[(n.start_byte, n.end_byte)] = len(news)
        news.append([scope, norm_type(tx(ty)), argc, n.start_point[0] + 1, anon, akinds])

    throw_news: list[list[Any]] = []
    for n in caps.get("throw", ()):
        e = n.named_child(0)
        if e is None or e.type != "object_creation_expression" or e.child(0).type != "new":
            continue
        scope = codes[bisect_right(bounds, n.start_byte) - 1]
        ty = e.child_by_field_name("type")
        if scope is not None and ty is not None:
            throw_news.append([scope, norm_type(tx(ty)), n.start_point[0] + 1])

    catches: list[list[Any]] = []
    locals_: list[list[Any]] = folded_locals
    for n in caps.get("catch", ()):
        scope = codes[bisect_right(bounds, n.start_byte) - 1]
        ct = None
        for c in n.named_children:
            if c.type == "catch_type":
                ct = c
                break
        if scope is None or ct is None:
            continue
        tys = [norm_type(tx(x)) for x in ct.named_children if x.type not in _COMMENTS]
        catches.append([scope, tys, n.start_point[0] + 1])
        pn = n.child_by_field_name("name")
        if pn is not None and len(tys) == 1:
            locals_.append([scope, tx(pn), tys[0], ""])
    for n in caps.get("local", ()):
        scope = codes[bisect_right(bounds, n.start_byte) - 1]
        ty = n.child_by_field_name("type")
        if scope is None or ty is None:
            continue
        tyt = norm_type(tx(ty))
        gt = generic_type(tx(ty))
        for d in n.children_by_field_name("declarator"):
            dn = d.child_by_field_name("name")
            if dn is None:
                continue
            vt = ""
            if tyt == "var":
                v = d.child_by_field_name("value")
                if v is not None:
                    vt = _var_init(v, tx, call_rows)
            locals_.append([scope, tx(dn), tyt, vt, gt])
    for n in caps.get("foreach", ()):
        scope = codes[bisect_right(bounds, n.start_byte) - 1]
        ty, dn = n.child_by_field_name("type"), n.child_by_field_name("name")
        if scope is not None and ty is not None and dn is not None:
            tyt = norm_type(tx(ty))
            vt = ""
            if tyt == "var":  # `for (var x : xs)`: an element of xs
                v = n.child_by_field_name("value")
                k = _arg(v, tx, call_rows) if v is not None else ""
                vt = f"it:{k}" if k else ""
            locals_.append([scope, tx(dn), tyt, vt, generic_type(tx(ty))])

    lambdas: list[list[Any]] = []
    for li, n in enumerate(lam_nodes):
        si = bisect_right(bounds, n.start_byte) - 1
        scope = codes[si]
        ps = n.child_by_field_name("parameters")
        names: list[str] = []
        ptys: list[str] = []
        if scope is not None and ps is not None:
            pt = ps.type
            if pt == "identifier":
                names, ptys = [tx(ps)], ["?"]
            elif pt == "inferred_parameters":
                names = [tx(c) for c in ps.named_children if c.type == "identifier"]
                ptys = ["?"] * len(names)
            elif pt == "formal_parameters":
                for ty, name in _params(tx(ps))[0]:
                    names.append(name)
                    ptys.append("?" if ty == "var" else ty)
            locals_.extend([scope, name, "?", ""] if ty == "?" else [scope, name, ty, ""]
                           for name, ty in zip(names, ptys, strict=True))
        # the call it is an argument of, and its position there
        row, pos, target = -1, -1, ""
        up = ancestry.of(n)
        al = next(up, None)
        if al is not None and al.type == "argument_list":
            inv = next(up, None)
            pos = sum(1 for c in al.named_children if c.start_byte < n.start_byte and c.type not in _COMMENTS)
            if inv is not None and inv.type == "method_invocation":
                row = call_rows.get((inv.start_byte, inv.end_byte), -1)
            elif inv is not None and (inv.start_byte, inv.end_byte) in new_rows:
                target = f"ctor:{new_rows[(inv.start_byte, inv.end_byte)]}:{pos}"
        elif al is not None:
            # `return x -> ..` names the method's return type only directly in the method (not in
            # an enclosing lambda's body or in an anonymous class's method folded into the scope)
            target = _lambda_target(n, al, up, tx, kinds[si] == "m" and lam_parent[li] < 0)
        lambdas.append([scope, names, ptys, row, pos, lam_parent[li], target])

    errors = 0
    if root.has_error:
        ec = QueryCursor(st["errors"]).captures(root)
        errors = sum(len(v) for v in ec.values())
    return {"package": package, "imports": imports, "types": types, "methods": methods,
            "fields": fields, "calls": calls, "news": news, "throw_news": throw_news,
            "catches": catches, "locals": locals_, "mrefs": mrefs, "lambdas": lambdas,
            "errors": errors}


def _type_row(n: Any, outer: int, tx: Any, tparams: Any, modifiers: Any,
              fields: list[list[Any]], idx: int) -> list[Any]:
    name_n = n.child_by_field_name("name")
    kind = _TYPE_KIND[n.type]
    sup = ""
    ifaces: list[str] = []
    raw: list[str] = []  # supertypes as written, generic arguments kept
    if kind == "class":
        s = n.child_by_field_name("superclass")
        if s is not None and s.named_child_count:
            st = tx(s.named_child(s.named_child_count - 1))
            sup = norm_type(st)
            raw.append(st)
    if kind == "interface":
        for c in n.named_children:
            if c.type == "extends_interfaces":
                tl = c.named_child(0)
                if tl is not None:
                    its = [tx(x) for x in tl.named_children if x.type not in _COMMENTS]
                    ifaces = [norm_type(x) for x in its]
                    raw.extend(its)
                break
    elif kind != "annotation":
        si = n.child_by_field_name("interfaces")
        if si is not None and si.named_child_count:
            tl = si.named_child(0)
            its = [tx(x) for x in tl.named_children if x.type not in _COMMENTS]
            ifaces = [norm_type(x) for x in its]
            raw.extend(its)
    annots, _flags = modifiers(n)
    if kind == "record":
        ps = n.child_by_field_name("parameters")
        if ps is not None:
            for p in ps.named_children:
                if p.type == "formal_parameter":
                    pt, pn = p.child_by_field_name("type"), p.child_by_field_name("name")
                    if pt is not None and pn is not None:
                        fields.append([idx, tx(pn), p.start_point[0] + 1, p.end_point[0] + 1,
                                       norm_type(tx(pt)), [], "r", generic_type(tx(pt))])
    tp = n.child_by_field_name("type_parameters")
    # generic supertypes (superclass first), only when one has type arguments
    gsup = [generic_type(x) or norm_type(x) for x in raw] if any("<" in x for x in raw) else []
    return [kind, tx(name_n) if name_n is not None else "?", outer,
            n.start_point[0] + 1, n.end_point[0] + 1, tparams(n), sup, ifaces, annots,
            _tbounds(tx(tp)) if tp is not None else [], gsup]


def _method_row(n: Any, owner: int, sl: Any, until_body: Any, fields: list[list[Any]]) -> list[Any]:
    """A method or constructor from the text of its header (fewer node visits than its fields)."""
    start = n.start_byte
    line = n.start_point[0] + 1
    ps = n.child_by_field_name("parameters")
    ctor = n.type in ("constructor_declaration", "compact_constructor_declaration")
    if ps is None:
        if ctor:  # compact constructor `Name {`: the record's components
            header = until_body(start)
            params = [[f[4], f[1]] for f in fields if f[0] == owner and f[6] == "r"]
        else:  # annotation type element `String value() default ""`
            nm = n.child_by_field_name("name")
            header = sl(start, nm.end_byte) if nm is not None else "?"
            params = []
        varargs, tail = False, ""
    else:
        header = sl(start, ps.start_byte)
        params_text = sl(ps.start_byte, ps.end_byte)
        params, varargs = _params(params_text)
        tail = until_body(ps.end_byte)
    annots: list[list[Any]] = []
    if "/" in header:
        header = _COMMENT.sub(lambda m: "\n" * m.group().count("\n"), header)
    if "@" in header:
        header = _annotations(header, line, annots)
    if "<" in header:  # `static<T>`: type parameters may touch the modifiers
        header = header.replace("<", " <")
    words = header.split(None)
    flags = ""
    i = 0
    while i < len(words) and words[i] in _MODIFIERS:
        w = words[i]
        if w == "static":
            flags += "s"
        elif w == "private":
            flags += "p"
        i += 1
    rest = " ".join(words[i:])
    tps: list[str] = []
    tbounds: list[list[Any]] = []
    if rest.startswith("<"):
        depth = 0
        for j, ch in enumerate(rest):
            if ch == "<":
                depth += 1
            elif ch == ">":
                depth -= 1
                if depth == 0:
                    tps = _tparams(rest[:j + 1])
                    if " extends " in rest[:j + 1]:
                        tbounds = _tbounds(rest[:j + 1])
                    rest = rest[j + 1:]
                    break
    gret = ""
    if ctor:
        name, ret = "<init>", ""
        flags += "c"
    else:
        ret, _, name = rest.rstrip().rpartition(" ")
        if not ret and ("<" in name or "[" in name):  # `List<T>name`: no space before the name
            m = _TRAILING_NAME.search(name)
            if m is not None:
                ret, name = name[:m.start()], m.group()
        gret = generic_type(ret)
        ret = norm_type(ret)
        if tail.lstrip().startswith("["):
            ret += "[]" * tail.split("throws")[0].count("[")
    if varargs:
        flags += "v"
    if n.child_by_field_name("body") is None and not ctor:
        flags += "a"  # abstract (or native): no body
    gparams: list[str] = []
    if ps is not None and "<" in params_text:
        gparams = _gparams(params_text)
        if len(gparams) != len(params) or not any(gparams):
            gparams = []
    throws: list[str] = []
    if "throws" in tail:
        m = _THROWS.search(tail)
        if m is not None:
            throws = _type_list(tail[m.end():].split("default")[0])
    # generics: [return type, [parameter types] ("" for a plain one), bounds of type parameters]
    return [owner, name, line, n.end_point[0] + 1, params, ret, throws, tps, annots, flags,
            [gret, gparams, tbounds]]


def _annotations(header: str, line: int, out: list[list[Any]]) -> str:
    """Take the annotations out of a declaration header, appending [name, line] to `out`."""
    pieces = []
    pos = 0
    while True:
        at = header.find("@", pos)
        if at < 0:
            break
        m = _ANNOT_NAME.match(header, at)
        if m is None:
            pos = at + 1
            continue
        pieces.append(header[pos:at])
        out.append(["".join(m.group(1).split()), line + header.count("\n", 0, at)])
        end = m.end()
        k = end
        while k < len(header) and header[k] in " \t\r\n":
            k += 1
        if k < len(header) and header[k] == "(":
            depth, quote = 0, ""
            while k < len(header):
                ch = header[k]
                if quote:
                    if ch == "\\":
                        k += 1
                    elif ch == quote:
                        quote = ""
                elif ch in "\"'":
                    quote = ch
                elif ch == "(":
                    depth += 1
                elif ch == ")":
                    depth -= 1
                    if depth == 0:
                        k += 1
                        break
                k += 1
            end = k
        pieces.append(" ")
        pos = end
    pieces.append(header[pos:])
    return "".join(pieces)


def _clean(s: str) -> str:
    """Comments, annotations and generic arguments out of a piece of declaration text."""
    if "/" in s:
        s = _COMMENT.sub(" ", s)
    if "@" in s:
        s = _ANNOT.sub(" ", s)
    s = _strip_generics(s)
    return s


def _tparams(text: str) -> list[str]:
    out = []
    for part in _clean(text.strip()[1:-1]).split(","):
        m = _WORD.match(part)
        if m:
            out.append(m.group(1))
    return out


def _type_list(text: str) -> list[str]:
    return [t for t in ("".join(p.split()) for p in _clean(text).split(",")) if t]


def _params(text: str) -> tuple[list[list[str]], bool]:
    """`(final int a, Map<K, V> m, String... r)` -> [[int, a], [Map, m], [String[], r]], varargs."""
    s = text[1:-1]
    if not s or s.isspace():
        return [], False
    if "<" in s or "@" in s or "/" in s:
        s = _clean(s)
    out = []
    varargs = False
    for part in s.split(","):
        toks = part.split()
        dims = 0
        while toks and toks[-1][0] == "[":
            dims += toks.pop().count("[")
        if not toks:
            continue
        name = toks.pop()
        if "..." in name:
            head, _, name = name.rpartition("...")
            toks.append(head + "...")
        elif "[" in name:
            name, _, d = name.partition("[")
            dims += d.count("[") + 1
        while toks and toks[0] == "final":
            del toks[0]
        if not toks or name == "this":
            continue
        ty = toks[0] if len(toks) == 1 else "".join(toks)
        if dims:
            ty += "[]" * dims
        if ty.endswith("..."):
            ty = ty[:-3] + "[]"
            varargs = True
        out.append([ty, name])
    return out, varargs


def _args(args: Any, tx: Any, call_rows: dict[tuple[int, int], int]) -> tuple[int, list[str]]:
    """Argument count and what each argument evidently is ([] when nothing is known): a literal
    kind, ``n:x`` a name, ``q:a.b`` a dotted name, ``this``, ``c:T`` an expression of type T (a
    cast, ``T.class``, an array creation), ``new:T``, ``k:<row>`` the result of that call row,
    ``ai:x`` an element of array x, ``fn`` a lambda or method reference, "" unknown."""
    at = tx(args)[1:-1]
    if not at or at.isspace():
        return 0, []
    if _COMPLEX_ARGS.search(at) is None:  # plain names, numbers, operators: split on commas
        parts = at.split(",")
        kinds = [_simple_arg(p.strip()) for p in parts]
        return len(parts), kinds if any(kinds) else []
    kinds = []
    for a in args.named_children:
        if a.type in _COMMENTS:
            continue
        kinds.append(_arg(a, tx, call_rows))
    return len(kinds), kinds if any(kinds) else []


_NAME = re.compile(r"[A-Za-z_$][\w$]*")
_DOTTED_NAME = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+")
_BOOLEAN_OPS = frozenset({"==", "!=", "<", ">", "<=", ">=", "&&", "||"})


def _simple_arg(p: str) -> str:
    if _NAME.fullmatch(p):
        return "this" if p == "this" else (_literal_kind(p) or f"n:{p}")
    if _DOTTED_NAME.fullmatch(p):
        return f"q:{p}"
    return _literal_kind(p)


def _arg(a: Any, tx: Any, call_rows: dict[tuple[int, int], int]) -> str:
    t = a.type
    k = _LITERALS.get(t)
    if k is not None:
        if k == "int" and tx(a)[-1:] in ("l", "L"):
            return "long"
        if k == "double" and tx(a)[-1:] in ("f", "F"):
            return "float"
        return k
    if t == "identifier":
        return f"n:{tx(a)}"
    if t == "this":
        return "this"
    if t == "field_access":
        ft = tx(a)
        return f"q:{ft}" if _DOTTED_NAME.fullmatch(ft) else ""
    if t == "method_invocation":
        row = call_rows.get((a.start_byte, a.end_byte))
        return "" if row is None else f"k:{row}"
    if t == "cast_expression":
        ty = a.child_by_field_name("type")
        return f"c:{norm_type(tx(ty))}" if ty is not None else ""
    if t == "object_creation_expression":
        ty = a.child_by_field_name("type")
        return f"new:{norm_type(tx(ty))}" if ty is not None and a.child(0).type == "new" else ""
    if t == "class_literal":
        return "c:Class"
    if t == "array_creation_expression":
        ty = a.child_by_field_name("type")
        if ty is None:
            return ""
        dims = sum(1 for c in a.children if c.type == "dimensions_expr")
        d = a.child_by_field_name("dimensions")
        dims += tx(d).count("[") if d is not None else 0
        return f"c:{norm_type(tx(ty))}{'[]' * dims}" if dims else ""
    if t == "array_access":
        arr = a.child_by_field_name("array")
        return f"ai:{tx(arr)}" if arr is not None and arr.type == "identifier" else ""
    if t in ("lambda_expression", "method_reference"):
        return "fn"
    if t == "binary_expression":
        op = a.child_by_field_name("operator")
        o = op.type if op is not None else ""
        if o in _BOOLEAN_OPS:
            return "boolean"
        if o == "+":
            left, right = a.child_by_field_name("left"), a.child_by_field_name("right")
            if any(x is not None and x.type in ("string_literal", "text_block") for x in (left, right)):
                return "String"
        return ""
    if t == "instanceof_expression":
        return "boolean"
    if t == "unary_expression" and tx(a)[:1] == "!":
        return "boolean"
    if t == "parenthesized_expression" and a.named_child_count == 1:
        return _arg(a.named_child(0), tx, call_rows)
    return ""


class _Ancestry:
    """The ancestors of nodes taken in document order, from one TreeCursor.

    Node.parent walks down from the root on every call, so asking it along a deep nesting is
    quadratic (10,000 nested lambdas took 12.5 s); the cursor keeps its path, so going from one
    node to the next costs only the levels between them.
    """

    def __init__(self, root: Any):
        self.root = root
        self.cursor = root.walk()

    def of(self, n: Any) -> Iterator[Any]:
        """The ancestors of `n`, nearest first."""
        c, s, e = self.cursor, n.start_byte, n.end_byte
        node = c.node
        # up to n or an ancestor of it: a node that holds its span and is larger (a node of the
        # same span may lie inside n)
        while not (node == n or _holds(node, s, e) and node.end_byte - node.start_byte > e - s):
            if not c.goto_parent():
                break
            node = c.node
        while node != n:  # down to n, through the children that hold its span
            if c.goto_first_child_for_byte(s) is None:
                return self._lost(n)
            node = c.node
            while not _holds(node, s, e):
                if not c.goto_next_sibling():
                    return self._lost(n)
                node = c.node
        # a cursor of its own, set to this one's place: TreeCursor.copy() segfaulted now and then in
        # goto_parent (py-tree-sitter 0.25-0.26; its copies are not zero-initialised like new cursors)
        up = self.root.walk()
        up.reset_to(c)
        return _cursor_ancestors(up)

    def _lost(self, n: Any) -> Iterator[Any]:
        """Where error recovery left a shape the walk does not follow: Node.parent, as before."""
        self.cursor.reset(self.root)
        return _node_ancestors(n)


def _holds(node: Any, start: int, end: int) -> bool:
    return node.start_byte <= start and end <= node.end_byte


def _cursor_ancestors(c: Any) -> Iterator[Any]:
    while c.goto_parent():
        yield c.node


def _node_ancestors(n: Any) -> Iterator[Any]:
    p = n.parent
    while p is not None:
        yield p
        p = p.parent


def _lambda_target(n: Any, p: Any, up: Iterator[Any], tx: Any, in_method: bool) -> str:
    """What a lambda that is no call argument is assigned to, as an argument kind (see ``lambdas``);
    `p` is its parent and `up` yields the ancestors above."""
    child = n  # through parentheses and the branches of `c ? x -> .. : y -> ..`
    while p is not None and (p.type == "parenthesized_expression" or (
            p.type == "ternary_expression" and child.start_byte != p.start_byte)):
        child, p = p, next(up, None)
    if p is None:
        return ""
    t = p.type
    if t == "variable_declarator":  # `Sink<Node> s = q -> ..`, a local or a field
        decl = next(up, None)
        ty = decl.child_by_field_name("type") if decl is not None else None
        if ty is None or p.child_by_field_name("dimensions") is not None:
            return ""
        text = tx(ty)
        return "" if text == "var" else f"c:{generic_type(text) or norm_type(text)}"
    if t == "cast_expression":  # `(Fn<A, B>) a -> ..`
        ty = p.child_by_field_name("type")
        text = tx(ty) if ty is not None else "&"
        return "" if "&" in text else f"c:{generic_type(text) or norm_type(text)}"
    if t == "assignment_expression":  # `f = a -> ..`, `this.f = a -> ..`
        left, op = p.child_by_field_name("left"), p.child_by_field_name("operator")
        if left is None or left.start_byte == child.start_byte or op is None or op.type != "=":
            return ""
        return _arg(left, tx, {}) if left.type in ("identifier", "field_access") else ""
    if t == "return_statement":
        return "r" if in_method else ""
    return ""


def _var_init(v: Any, tx: Any, call_rows: dict[tuple[int, int], int]) -> str:
    """What a `var` is initialised with, as an argument kind (`_args`); `new T<A>()` keeps its
    type arguments."""
    if v.type == "object_creation_expression":
        ty = v.child_by_field_name("type")
        if ty is None or v.child(0).type != "new" or tx(v).endswith("}"):
            return ""  # `outer.new T()`, or an anonymous class (not a T)
        g = generic_type(tx(ty))
        return f"new:{g}" if g and not g.endswith("<>") else f"new:{norm_type(tx(ty))}"
    return _arg(v, tx, call_rows)


def _literal_kind(p: str) -> str:
    if p in ("true", "false"):
        return "boolean"
    if p == "null":
        return "null"
    if _NUMBER.fullmatch(p):
        if p.lstrip("+-")[:2] in ("0x", "0X", "0b", "0B"):
            return "long" if p[-1] in "lL" else "int"
        if p[-1] in "lL":
            return "long"
        if p[-1] in "fF":
            return "float"
        if p[-1] in "dD" or "." in p or "e" in p or "E" in p:
            return "double"
        return "int"
    return ""
