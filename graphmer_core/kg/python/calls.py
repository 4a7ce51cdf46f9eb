"""References out of code: declarations (bases, decorators, signatures, overrides), imports,
calls, raises and catches."""

from __future__ import annotations

from graphmer_core.kg import ontology as O
from graphmer_core.kg.python.bindings import _Module
from graphmer_core.kg.python.types import _NAME


class Calls:
    """Emission of reference triples (a mixin of Resolver)."""

    def callee(self, mod: _Module, scope: int, text: str) -> tuple[tuple | None, str]:
        if "()." not in text:
            return self.expr(mod, scope, text)
        inner, _, attr = text.rpartition("().")
        if inner == "super":
            s = scope
            while s >= 0 and not (mod.scopes[s].kind == "f" and mod.scopes[s].self_value is not None):
                s = mod.scopes[s].parent
            if s < 0:
                return None, ""
            cls_eid = mod.scopes[mod.scopes[s].parent].eid
            return self.class_attr(cls_eid, attr, instance=True, skip_first=True, label="super")
        v, label = self.call_result(mod, scope, inner)
        if v is None:
            return None, ""
        return self.attribute(v, attr, label)

    def emit_points_to(self, mod: _Module, unresolved: list[tuple]) -> None:
        """Calls the name and type lookup left unresolved, and callee shapes it does not read
        (`f()()`, `d[k]()`, `(a or b)()`, `type(x)()`), through the points-to analysis."""
        sites = []
        for scope, line, text in unresolved:
            if "()." in text:
                inner, _, attr = text.rpartition("().")
                e = ("S",) if inner == "super" else self.call_expr(mod, scope, line, inner)
                sites.append((scope, line, ("a", e, attr)))
            else:
                sites.append((scope, line, ("n", text)))
        for scope, line, callee, _args, _kwargs in mod.file.facts.get("pcalls", ()):
            if callee[0] == "n" or (callee[0] == "a" and (callee[1] == ["S"] or (
                    callee[1][0] == "c" and callee[1][1][0] == "n"))):
                continue  # shapes the `calls` facts hold: done above
            sites.append((scope, line, callee))
        n = len(mod.scopes)
        append, path, callees = self.triples.append, mod.file.path, self.points_to_callees
        for scope, line, e in sites:
            if not -1 <= scope < n:
                continue
            try:
                values = callees(mod, scope, e)
            except Exception as exc:
                self.failed(path, line, "call (points-to)", exc)
                continue
            if values:
                head = self.head_of(mod, scope)
                for v in values:
                    append((head, "instantiates" if v[0] == "cls" else "calls", v[1], path, line, "points_to"))

    def head_of(self, mod: _Module, scope: int) -> str:
        return mod.eid if scope < 0 else mod.scopes[scope].eid

    def emit_refs(self, mod: _Module) -> None:
        f = mod.file
        facts = f.facts
        n = len(mod.scopes)
        # declarations: bases, decorators, signatures, overrides
        for sc in mod.scopes:
            row = sc.row
            line = row[3]
            for text in row[5]:
                if not _NAME.fullmatch(text):
                    continue
                v, label = self.expr(mod, sc.parent, text.replace(" ", ""))
                if v is not None and v[0] in ("fn", "cls", "ext"):
                    self.triple(sc.eid, "decorated_by", self.value_tail(v), f, line, label)
                    if v[0] == "fn":  # applying the decorator calls it, where the def runs
                        self.triple(self.head_of(mod, sc.parent), "calls", v[1], f, line, "decorator")
            if sc.kind == "c":
                for base in self.class_bases(self.classes[sc.eid]):
                    if base is not None:
                        self.triple(sc.eid, "inherits_from", self.value_tail(base[0], 2), f, line, base[1])
                continue
            for _pname, ann, _star in row[6]:
                if ann:
                    for tail, label in self.annotation(mod, sc.parent, ann):
                        self.triple(sc.eid, "has_parameter_type", tail, f, line, label)
            if row[7]:
                for tail, label in self.annotation(mod, sc.parent, row[7]):
                    self.triple(sc.eid, "returns_type", tail, f, line, label)
            if sc.ekind == O.METHOD:
                tail = self.overridden(mod.scopes[sc.parent].eid, sc.name)
                if tail is not None and tail != sc.eid:
                    self.triple(sc.eid, "overrides", tail, f, line, "inherited")
        for _scope, line, module, level, names in facts.get("imports", ()):
            if level < 0:
                for dotted, _alias in names:
                    if dotted in self.modules:
                        self.triple(mod.eid, "imports", self.prefix + dotted, f, line, "import")
                    else:
                        self.triple(mod.eid, "imports", self.ext_ref(dotted, 3), f, line, "external")
                continue
            base = self.absolute(mod, module, level)
            if base is None:
                continue
            for name, _alias in names:
                if base not in self.modules:
                    tail = self.ext_ref(base if name == "*" else f"{base}.{name}")
                    self.triple(mod.eid, "imports", tail, f, line, "external")
                    continue
                if name == "*":
                    self.triple(mod.eid, "imports", self.prefix + base, f, line, "import")
                    continue
                tail = self.symbol(base, name) or self.prefix + base
                self.triple(mod.eid, "imports", tail, f, line, "external" if tail.startswith("py:ext:") else "import")
        append, path, scopes, callee = self.triples.append, f.path, mod.scopes, self.callee  # the hottest loop
        unresolved: list[tuple] = []
        for scope, line, text in facts.get("calls", ()):
            if not -1 <= scope < n or text == "super":
                continue
            try:
                v, label = callee(mod, scope, text)
            except Exception as e:
                self.failed(path, line, "call", e)
                continue
            if v is None:
                unresolved.append((scope, line, text))
                continue
            head = mod.eid if scope < 0 else scopes[scope].eid
            tag = v[0]
            if tag == "cls":
                append((head, "instantiates", v[1], path, line, label))
            elif tag == "fn":
                append((head, "calls", v[1], path, line, label))
            elif tag == "ext":
                append((head, "calls?", self.ext_ref(v[1]), path, line, label))
        self.emit_points_to(mod, unresolved)
        for rel, rows in (("raises", facts.get("raises", ())), ("catches", facts.get("catches", ()))):
            for scope, line, text in rows:
                if not -1 <= scope < n:
                    continue
                v, label = self.expr(mod, scope, text)
                if v is not None and v[0] in ("cls", "ext"):
                    self.triple(self.head_of(mod, scope), rel, self.value_tail(v, 2), f, line, label)
