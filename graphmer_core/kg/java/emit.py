"""Entities and triples of a Java corpus: declarations, hierarchy, imports, overrides, code references.

``Resolver`` holds the corpus-wide indexes and the external entities; a ``FileEmitter`` walks one
file's facts and writes its rows. Calls are resolved by ``CallSites`` (calls.py), which the
emitter extends.

Overrides: a non-static, non-private method overrides the nearest method of the same name and
arity in its superclass chain, then its interfaces breadth first, whose erased parameter simple
types are equal ("exact") or are type variables of the overridden side standing for non-primitive
types ("inherited"). With no internal match, an ``@Override`` method overrides the method of its
single explicit external ancestor (or ``java.lang.Object``'s), as an ExternalFunction.
``new T(..)`` gives ``instantiates`` (not for interfaces: anonymous classes) and a call to the
constructor chosen by its arguments.
"""

from __future__ import annotations

from typing import Any

from graphmer_core.kg.java.calls import AMBIGUOUS, CallSites
from graphmer_core.kg.java.generics import GenericIndex
from graphmer_core.kg.java.model import (
    LANG, OBJECT_METHODS, PRIMITIVES, MethodDecl, TypeDecl, Unit, base, field_id,
)
from graphmer_core.kg.resolution import Resolved


class Resolver(GenericIndex):
    """The corpus's indexes, its external entities and its output rows."""

    def ext_entity(self, eid: str, kind: str, qn: str, name: str) -> None:
        if eid in self.ext_seen:
            return
        self.ext_seen.add(eid)
        self.out.entities.append((eid, kind, name, qn, LANG, self.corpus, None, None, None, None))

    def ref_id(self, ref: Any) -> tuple[str, str, str]:
        """(tail id, tail kind, resolution) of a type ref; external entities are emitted here."""
        if ref[0] == "i":
            return ref[1].id, ref[1].kind, ref[2]
        if ref[0] == "e":
            fqn = ref[1]
            eid = f"java:ext:{fqn}"
            self.ext_entity(eid, "ExternalClass", fqn, fqn.rpartition(".")[2])
            return eid, "ExternalClass", "external"
        eid = f"java:ext:?.{ref[1]}"
        self.ext_entity(eid, "ExternalSymbol", f"?.{ref[1]}", ref[1].rpartition(".")[2])
        return eid, "ExternalSymbol", "unresolved"

    def ext_method(self, owner_fqn: str, name: str) -> str:
        eid = f"java:ext:{owner_fqn}.{name}"
        self.ext_entity(eid, "ExternalFunction", f"{owner_fqn}.{name}", name)
        return eid

    def run(self) -> Resolved:
        out = self.out
        c = self.corpus
        for pkg, folder in sorted(self.pkg_path.items()):
            out.entities.append((f"java:{c}:{pkg}", "Package", pkg.rpartition(".")[2], pkg, LANG, c, folder,
                                 None, None, None))
        for f in self.files:
            FileEmitter(self, f).emit()
        return out

    def release(self) -> None:
        """Break the type <-> method/file cycles, so the facts go with the last reference, not
        with the next cyclic collection (which scans every object still alive by then)."""
        for f in self.files:
            f.top.clear()
            declared = f._methods is not None
            for t in f.types:
                t.nested.clear()
                if declared:
                    t.methods.clear()
                t.cache.clear()
                t._members.clear()
                t.outer = None
            f.types, f._methods = [], []  # each method's owner is one of those types, whose file is f
        self.types.clear()
        self.types.ix = self.pkg_types.ix = None  # they record into this index: a cycle
        for memo in (self._ptypes, self._gmemo, self._anc_memo, self._rets):
            memo.clear()
        self.pkg_types.clear()


class FileEmitter(CallSites):
    def __init__(self, r: Resolver, f: Unit):
        self.r = r
        self.f = f
        self.types = f.types
        self.methods = f.methods
        self.path = f.pf.path
        self.sha = f.pf.sha256
        self.corpus = r.corpus
        self.triples = r.out.triples
        self.locals: dict[int, dict[str, Any]] = {}
        self.call_memo: dict[int, Any] = {}
        self.done: set[int] = set()
        self.calls = f.pf.facts.get("calls", ())
        self.lambdas = f.pf.facts.get("lambdas", ())
        self.news = f.pf.facts.get("news", ())
        self.new_memo: dict[int, tuple] = {}
        self.call_val: dict[int, Any] = {}  # the value (generics.py) each resolved call returns
        self.recv_memo: dict[int, Any] = {}
        self.lam_memo: dict[tuple[int, int], Any] = {}
        self.evaluating: set[tuple[int, str]] = set()

    def triple(self, head: str, rel: str, tail: str, line: int, res: str) -> None:
        self.triples.append((head, rel, tail, LANG, self.corpus, self.path, line, res))

    def entity(self, eid: str, kind: str, name: str, qn: str, start: int, end: int) -> None:
        self.r.out.entities.append((eid, kind, name, qn, LANG, self.corpus, self.path, start, end, self.sha))

    def type_triple(self, head: str, rel: str, text: str, line: int, ctx: TypeDecl | None,
                    tparams: frozenset[str], allowed: frozenset[str] | None = None) -> None:
        ref = self.r.type_ref(text, self.f, ctx, tparams)
        if ref is None:
            return
        if allowed is not None and ref[0] == "i" and ref[1].kind not in allowed:
            return
        tail, _kind, res = self.r.ref_id(ref)
        self.triple(head, rel, tail, line, res)

    def scope(self, s: Any) -> tuple[str, TypeDecl, MethodDecl | None, frozenset[str]] | None:
        if s is None:
            return None
        if s >= 0:
            m = self.methods[s] if s < len(self.methods) else None
            if m is None:
                return None
            return m.id, m.owner, m, m.tparams
        ti = -s - 1
        if ti >= len(self.types):
            return None
        t = self.types[ti]
        return t.id, t, None, frozenset()

    def emit(self) -> None:
        r, f = self.r, self.f
        facts = f.pf.facts
        c = self.corpus
        _TY, _IFACE, _CE = (frozenset({"Class"}), frozenset({"Interface"}),
                            frozenset({"Class", "Enum"}))
        tops = [t for t in self.types if t.outer is None]
        pkg_id = f"java:{c}:{f.package}"
        for t in self.types:
            row = t.row
            self.entity(t.id, t.kind, t.name, t.fqn, row[3], row[4])
            if t.outer is None:
                self.triple(pkg_id, "contains", t.id, row[3], "syntax")
            else:
                self.triple(t.outer.id, "contains", t.id, row[3], "syntax")
            tp = frozenset(row[5])
            if row[6]:
                self.type_triple(t.id, "inherits_from", row[6], row[3], t.outer, tp, _TY)
            for x in row[7]:
                if t.kind == "Interface":
                    self.type_triple(t.id, "inherits_from", x, row[3], t.outer, tp, _IFACE)
                else:
                    self.type_triple(t.id, "implements", x, row[3], t.outer, tp, _IFACE)
            for an, line in row[8]:
                self.type_triple(t.id, "annotated_with", an, line, t, tp, _IFACE)
        # imports hang off the file's top-level types
        for name, static, on_demand, line in facts.get("imports", ()):
            tail = None
            res = "import"
            if static:
                owner = name if on_demand else name.rpartition(".")[0]
                ot = r.types.get(owner)
                if ot is None:
                    if on_demand:
                        tail, res = r.ref_id(("e", owner, "external"))[0], "external"
                    else:
                        tail, res = f"java:ext:{name}", "external"
                        r.ext_entity(tail, "ExternalSymbol", name, name.rpartition(".")[2])
                elif on_demand:
                    tail = ot.id
                else:
                    member = name.rpartition(".")[2]
                    ms = ot.methods.get(member, [])
                    if member in ot.fields and not ms:
                        tail = field_id(c, ot, member)
                    elif len(ms) == 1 and member not in ot.fields:
                        tail = ms[0].id
                    elif member in ot.nested:
                        tail = ot.nested[member].id
                    else:
                        tail = ot.id
            elif on_demand:
                if name in r.pkg_types:
                    tail = f"java:{c}:{name}"
                elif name in r.types:
                    tail = r.types[name].id
                else:
                    tail, res = f"java:ext:{name}", "external"
                    r.ext_entity(tail, "ExternalSymbol", name, name.rpartition(".")[2])
            else:
                it = r.types.get(name)
                if it is not None:
                    tail = it.id
                else:
                    tail, res = r.ref_id(("e", name, "external"))[0], "external"
            for t in tops:
                self.triple(t.id, "imports", tail, line, res)
        # fields
        for row in facts.get("fields", ()):
            if not 0 <= row[0] < len(self.types):
                continue
            t = self.types[row[0]]
            fid = field_id(c, t, row[1])
            self.entity(fid, "Field", row[1], f"{t.fqn}.{row[1]}", row[2], row[3])
            self.triple(t.id, "contains", fid, row[2], "syntax")
            if "e" in row[6]:
                self.triple(fid, "has_field_type", t.id, row[2], "exact")
            elif row[4]:
                self.type_triple(fid, "has_field_type", row[4], row[2], t, frozenset())
            for an, line in row[5]:
                self.type_triple(fid, "annotated_with", an, line, t, frozenset(), _IFACE)
        # methods
        for m in self.methods:
            if m is None:
                continue
            row = m.row
            t = m.owner
            line = row[2]
            self.entity(m.id, "Method", m.name, f"{t.fqn}.{m.name}", row[2], row[3])
            self.triple(t.id, "contains", m.id, line, "syntax")
            tp = m.tparams
            for pt in m.ptypes:
                self.type_triple(m.id, "has_parameter_type", pt, line, t, tp)
            if m.ret:
                self.type_triple(m.id, "returns_type", m.ret, line, t, tp)
            for x in row[6]:
                self.type_triple(m.id, "throws", x, line, t, tp)
            for an, aline in row[8]:
                self.type_triple(m.id, "annotated_with", an, aline, t, tp, _IFACE)
            if m.name != "<init>" and not m.static and not m.private:
                self.overrides(m)
        # locals: per scope, name -> declared type (or AMBIGUOUS)
        locs = self.locals
        for row in facts.get("locals", ()):
            s, name = row[0], row[1]
            d = locs.setdefault(s, {})
            v = (row[2], row[3], row[4] if len(row) > 4 else "")
            if d.get(name, v) != v:
                d[name] = AMBIGUOUS
            else:
                d[name] = v
        for s, m in enumerate(self.methods):
            if m is not None:
                d = locs.setdefault(s, {})
                for (ty, name), gt in zip(m.params, m.gparams, strict=True):
                    v = (ty, "", gt if gt != ty else "")
                    d[name] = AMBIGUOUS if d.get(name, v) != v else v
        # code references
        for i, (s, _ty, _argc, line, _anon, _akinds) in enumerate(self.news):
            ref, ctor, how = self.new_target(i)
            if ref is None:
                continue
            tail, _k, res = r.ref_id(ref)
            self.triple(self.scope(s)[0], "instantiates", tail, line, res)
            if ctor is not None:
                self.triple(self.scope(s)[0], "calls", ctor.id, line, "overload" if how == "overload" else res)
        for s, ty, line in facts.get("throw_news", ()):
            sc = self.scope(s)
            if sc is None or sc[2] is None:
                continue
            self.type_triple(sc[0], "throws", ty, line, sc[1], sc[3])
        for s, tys, line in facts.get("catches", ()):
            sc = self.scope(s)
            if sc is None:
                continue
            for ty in tys:
                self.type_triple(sc[0], "catches", ty, line, sc[1], sc[3])
        for row in facts.get("mrefs", ()):
            self.method_ref(row)
        for k in range(len(self.calls)):  # a chained call's receiver call comes first
            self.call(k)

    def new_target(self, i: int) -> tuple[Any, MethodDecl | None, str]:
        """(type ref, constructor, how it was chosen) of `new T(..)` row i; the ref is None where
        nothing is instantiated (an unknown type, `new Iface() {..}`: an anonymous class)."""
        hit = self.new_memo.get(i)
        if hit is not None:
            return hit
        self.new_memo[i] = out = (None, None, "")
        s, ty, argc, _line, anon, akinds = self.news[i]
        sc = self.scope(s)
        ref = self.r.type_ref(ty, self.f, sc[1], sc[3]) if sc is not None else None
        if ref is None or (ref[0] == "i" and ref[1].kind not in ("Class", "Enum")):
            return out
        ctor, how = None, ""
        if ref[0] == "i" and not anon:
            args = (lambda: self.arg_types(akinds, sc, s, "")) if akinds else None
            ctor, how = self.r.find_method(ref[1], "<init>", argc, args, inherit=False)
        self.new_memo[i] = out = (ref, ctor, how)
        return out

    def overrides(self, m: MethodDecl) -> None:
        r = self.r
        t = m.owner
        chain, ext, unknown = r.ancestors(t)
        for a in chain:
            for cand in a.methods.get(m.name, ()):
                if cand.arity != m.arity or cand.static or cand.private:
                    continue
                exact = cand.simple == m.simple
                if not exact:
                    tv = cand.tparams | a.tparams
                    if not all(p == q or (base(q) in tv and base(p) not in PRIMITIVES)
                               for p, q in zip(m.simple, cand.simple, strict=True)):
                        continue
                self.triple(m.id, "overrides", cand.id, m.row[2], "exact" if exact else "inherited")
                return
        if unknown or not any(an[0] in ("Override", "java.lang.Override") for an in m.row[8]):
            return
        if len(ext) == 1:
            owner = ext[0]
        elif not ext and m.name in OBJECT_METHODS and "java.lang.Object" not in r.types:
            owner = "java.lang.Object"
        else:
            return
        self.triple(m.id, "overrides", r.ext_method(owner, m.name), m.row[2], "external")
