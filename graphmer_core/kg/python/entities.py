"""Entities (modules, packages, classes, functions, fields, externals) and the final triple rows."""

from __future__ import annotations

import builtins

from graphmer_core.kg import ontology as O
from graphmer_core.kg.python.bindings import _Module
from graphmer_core.kg.python.types import annotation_names
from graphmer_core.parsing import ParsedFile

LANG = "python"
_CLASS_KINDS = frozenset({O.EXTERNAL_CLASS, O.CLASS, O.ENUM})  # another corpus's class, too


class Entities:
    """Entity rows, triple rows and externals (a mixin of Resolver)."""

    def entity(self, eid: str, kind: str, qname: str, path: str | None, start: int | None, end: int | None,
               sha: str | None) -> None:
        self.kinds[eid] = kind
        self.entities.append((eid, kind, qname.rsplit(".", 1)[-1], qname, LANG, self.corpus, path, start, end, sha))

    def triple(self, head: str, relation: str, tail: str, f: ParsedFile, line: int, resolution: str) -> None:
        self.triples.append((head, relation, tail, f.path, line, resolution))

    def ext_ref(self, dotted: str, rank: int = 0) -> str:
        if self.ext.get(dotted, -1) < rank:
            self.ext[dotted] = rank
        return "py:ext:" + dotted

    def value_tail(self, v: tuple, rank: int = 0) -> str | None:
        tag = v[0]
        if tag in ("cls", "fn", "field"):
            return v[1]
        if tag == "mod":
            return self.prefix + v[1]
        if tag == "ext":
            return self.ext_ref(v[1], rank)
        return None

    def emit(self) -> None:
        self.packages()
        for step, emit in (("definitions", self.emit_defs), ("fields", self.emit_fields),
                           ("references", self.emit_refs)):
            for mod in self.modules.values():
                try:
                    emit(mod)
                except Exception as e:  # the module keeps the rows made before the fault
                    self.failed(mod.file.path, None, step, e)

    def packages(self) -> None:
        namespace: dict[str, str] = {}
        for mod in self.modules.values():
            f = mod.file
            kind = O.PACKAGE if mod.is_pkg else O.MODULE
            self.entity(mod.eid, kind, mod.name, f.path, 1, int(f.facts.get("lines", 1)), f.sha256)
            parts = mod.name.split(".")
            folders = f.path.split("/")[:-1]
            if len(parts) > 1:
                parent = ".".join(parts[:-1])
                self.triple(self.prefix + parent, "contains", mod.eid, f, 1, "syntax")
            # ancestors without an __init__.py are namespace packages (folders under the package root)
            base = len(folders) - (len(parts) - (0 if mod.is_pkg else 1))
            for depth in range(1, len(parts)):
                name = ".".join(parts[:depth])
                if name not in self.modules:
                    namespace.setdefault(name, "/".join(folders[:base + depth]))
        for name, folder in sorted(namespace.items()):
            self.entity(self.prefix + name, O.PACKAGE, name, folder, None, None, None)
            if "." in name:
                self.triples.append((self.prefix + name.rsplit(".", 1)[0], "contains", self.prefix + name,
                                     folder, None, "syntax"))

    def emit_defs(self, mod: _Module) -> None:
        f = mod.file
        for sc in mod.scopes:
            row = sc.row
            head = mod.eid if sc.parent < 0 else mod.scopes[sc.parent].eid
            kind = sc.ekind
            if sc.kind == "c" and self.is_enum(self.classes[sc.eid]):
                kind = O.ENUM
            self.entity(sc.eid, kind, sc.qname, f.path, row[3], row[4], f.sha256)
            self.triple(head, "contains", sc.eid, f, row[3], "syntax")

    def emit_fields(self, mod: _Module) -> None:
        f = mod.file
        facts = f.facts
        scopes = mod.scopes
        for scope, line, target, kind, _rhs, ann in facts.get("asg", ()):
            if kind == "b" or not -1 <= scope < len(scopes):
                continue
            if "." not in target:
                if scope == -1 or target in scopes[scope].globals:
                    owner_eid, owner_q, ns = mod.eid, mod.name, mod.ns
                elif scopes[scope].kind == "c":
                    sc = scopes[scope]
                    owner_eid, owner_q, ns = sc.eid, sc.qname, sc.locals
                else:
                    continue
            else:
                found = self.self_attribute(scopes, scope, target)
                if found is None:
                    continue
                cls, target, _ = found
                owner_eid, owner_q, ns = cls.eid, cls.scopes[0].qname, cls.members
            qname = f"{owner_q}.{target}"
            eid = self.prefix + qname
            if any(b[0] == "val" for b in ns.get(target, ())):
                continue  # a def (or nested class) of that name owns the id
            if eid not in self.kinds:
                self.entity(eid, O.FIELD, qname, f.path, line, line, f.sha256)
            self.triple(owner_eid, "contains", eid, f, line, "syntax")
            if ann:
                for v, label in self.annotation(mod, scope, ann):
                    self.triple(eid, "has_field_type", v, f, line, label)

    def annotation(self, mod: _Module, scope: int, ann: str) -> list[tuple[str, str]]:
        out = []
        for name in annotation_names(ann):
            v, label = self.expr(mod, scope, name)
            if v is None or v[0] not in ("cls", "ext"):
                continue
            if v[0] == "ext" and v[1].startswith(("typing.", "typing_extensions.")):
                continue
            tail = self.value_tail(v)
            if tail:
                out.append((tail, label or "exact"))
        return out

    def externals(self) -> None:
        for dotted, rank in sorted(self.ext.items()):
            kind = O.EXTERNAL_SYMBOL
            if rank == 3:
                kind = O.EXTERNAL_MODULE
            elif dotted.startswith("builtins.") and dotted.count(".") == 1:
                obj = getattr(builtins, dotted[9:], None)
                if isinstance(obj, type):
                    kind = O.EXTERNAL_CLASS
                elif callable(obj):
                    kind = O.EXTERNAL_FUNCTION
            elif rank == 2:
                kind = O.EXTERNAL_CLASS
            elif rank == 1:
                kind = O.EXTERNAL_FUNCTION
            self.kinds["py:ext:" + dotted] = kind
            self.entities.append(("py:ext:" + dotted, kind, dotted.rsplit(".", 1)[-1], dotted, LANG, self.corpus,
                                  None, None, None, None))

    def release(self) -> None:
        """Break the module <-> binding cycles, so the facts go with the last reference, not
        with the next cyclic collection (which scans every object still alive by then)."""
        for mod in self.modules.values():
            mod.ns.clear()
            mod.scopes.clear()
        for cls in self.classes.values():
            cls.members.clear()
            cls.attrs.clear()
        self.cache.clear()

    def rows(self) -> list[tuple]:
        out = []
        kinds = self.kinds
        allowed: dict[tuple, bool] = {}
        for head, rel, tail, path, line, resolution in self.triples:
            if rel == "calls?":
                rel = "instantiates" if kinds.get(tail) in _CLASS_KINDS else "calls"
            key = (rel, kinds.get(head), kinds.get(tail))
            ok = allowed.get(key)
            if ok is None:
                ok = allowed[key] = key[1] is not None and key[2] is not None and O.allowed(*key)
            if not ok:
                continue
            if tail.startswith("py:ext:") and resolution in ("exact", "local", ""):
                resolution = "external"
            out.append((head, rel, tail, LANG, self.corpus, path, line, resolution))
        return out
