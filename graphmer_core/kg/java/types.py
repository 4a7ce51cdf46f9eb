"""Type names and hierarchy of a Java corpus.

Type names are resolved in Java's order: type variables in scope (no triple), the current type and
its member types (inherited ones too) outwards through enclosing types, the file's own types,
single-type imports ("import"), the same package ("same_package"), on-demand imports and
java.lang together (ambiguity -> unresolved), a lone external on-demand import, else unresolved.
Primitives, ``void`` and ``var`` produce no type triple; arrays and generics reduce to the
element / raw type.

A type ref is ``('i', TypeDecl, resolution)`` (internal), ``('e', fqn, 'external')`` or
``('u', name, 'unresolved')``; None for primitives and type variables.
"""

from __future__ import annotations

from typing import Any

from graphmer_core.kg.java.model import (
    IMPLICIT_SUPER, JAVA_LANG, PRIMITIVES, MethodDecl, TypeDecl, Unit, base,
)
from graphmer_core.kg.resolution import ParsedFile, Resolved


class TypeIndex:
    """Every type of the corpus by qualified name and package; type names resolved in Java's order;
    supertypes, ancestors and inherited fields."""


    def __init__(self, corpus: str, files: list[ParsedFile]) -> None:
        self.corpus = corpus
        self.types: dict[str, TypeDecl] = {}
        self.pkg_types: dict[str, dict[str, TypeDecl]] = {}
        self.pkg_path: dict[str, str] = {}
        self.out = Resolved()
        self.ext_seen: set[str] = set()
        self.files: list[tuple[Unit, list[TypeDecl], list[MethodDecl | None]]] = []
        self._ptypes: dict[str, list[Any]] = {}  # parameter types of methods, once resolved
        for pf in files:
            self._index(pf)

    # --- indexing ---------------------------------------------------------------------------
    def _index(self, pf: ParsedFile) -> None:
        f = Unit(pf)
        facts = pf.facts
        types: list[TypeDecl] = []
        for row in facts.get("types", ()):
            outer = types[row[2]] if 0 <= row[2] < len(types) else None
            if outer is not None:
                fqn = f"{outer.fqn}.{row[1]}"
            else:
                fqn = f"{f.package}.{row[1]}" if f.package else row[1]
            t = TypeDecl(fqn, self.corpus, row, f, outer)
            types.append(t)
            if outer is not None:
                outer.nested.setdefault(t.name, t)
            else:
                f.top.setdefault(t.name, t)
                self.pkg_types.setdefault(f.package, {}).setdefault(t.name, t)
            self.types.setdefault(fqn, t)
        methods: list[MethodDecl | None] = []
        for row in facts.get("methods", ()):
            owner = types[row[0]] if 0 <= row[0] < len(types) else None
            if owner is None:
                methods.append(None)
                continue
            m = MethodDecl(owner, self.corpus, row)
            owner.methods.setdefault(m.name, []).append(m)
            methods.append(m)
        for row in facts.get("fields", ()):
            if 0 <= row[0] < len(types):
                owner = types[row[0]]
                owner.fields.setdefault(row[1], row[4] or owner.fqn)
                if len(row) > 7 and row[7]:
                    owner.gfields.setdefault(row[1], row[7])
        if types and f.package not in self.pkg_path:
            self.pkg_path[f.package] = pf.path.rpartition("/")[0]
        self.files.append((f, types, methods))

    # --- type names -------------------------------------------------------------------------
    def member_type(self, t: TypeDecl, name: str, depth: int = 0) -> TypeDecl | None:
        """A member type of `t`, declared or inherited from internal supertypes."""
        hit = t.nested.get(name)
        if hit is not None or depth > 20:
            return hit
        if name in t._members:
            return t._members[name]
        t._members[name] = None  # cycle guard
        found = None
        sup, ifaces = self.supers(t)
        for ref in ([sup] if sup else []) + ifaces:
            if ref[0] == "i":
                found = self.member_type(ref[1], name, depth + 1)
                if found is not None:
                    break
        t._members[name] = found
        return found

    def supers(self, t: TypeDecl) -> tuple[Any, list[Any]]:
        """(superclass ref or None, [interface refs]), resolved lazily; implicit supers included."""
        if t._supers is not None:
            return t._supers
        t._supers = (None, [])  # cycle guard
        row = t.row
        tp = frozenset(row[5])
        ctx = t.outer
        sup = None
        if row[6]:
            sup = self.type_ref(row[6], t.file, ctx, tp)
        elif t.decl in IMPLICIT_SUPER and t.fqn != "java.lang.Object":
            q = IMPLICIT_SUPER[t.decl]
            it = self.types.get(q)
            sup = ("i", it, "implicit") if it is not None else ("e", q, "implicit")
        ifaces = [r for r in (self.type_ref(x, t.file, ctx, tp) for x in row[7]) if r is not None]
        t._supers = (sup, ifaces)
        return t._supers

    def type_ref(self, text: str, f: Unit, ctx: TypeDecl | None, tparams: frozenset[str] = frozenset()
                 ) -> Any:
        """('i', TypeDecl, resolution) | ('e', fqn, resolution) | ('u', name, 'unresolved') | None."""
        name = base(text)
        if not name or name in PRIMITIVES:
            return None
        head = name.partition(".")[0]
        if head in tparams:
            return None
        cache = None
        if ctx is not None:
            f = ctx.file  # a type's names resolve in its own file, whoever asks
            cache = ctx.cache
        if cache is not None:
            hit = cache.get(name, cache)
            if hit is not cache:
                return hit
        r = self._type_ref(name, f, ctx)
        if cache is not None:
            cache[name] = r
        return r

    def _type_ref(self, name: str, f: Unit, ctx: TypeDecl | None) -> Any:
        if "." in name:
            head, _, rest = name.partition(".")
            r = self._simple_ref(head, f, ctx)
            if r is None:
                return None
            if r[0] == "i":
                t = r[1]
                for seg in rest.split("."):
                    t = self.member_type(t, seg)
                    if t is None:
                        return ("u", name, "unresolved")
                return ("i", t, r[2])
            if r[0] == "e":
                return ("e", f"{r[1]}.{rest}", "external")
            it = self.types.get(name)
            if it is not None:
                return ("i", it, "exact")
            # a fully qualified name of a type outside the corpus: lowercase package segments
            segs = name.split(".")
            if segs[0][:1].islower() and segs[-1][:1].isupper():
                return ("e", name, "external")
            return ("u", name, "unresolved")
        return self._simple_ref(name, f, ctx)

    def _simple_ref(self, name: str, f: Unit, ctx: TypeDecl | None) -> Any:
        c = ctx
        while c is not None:
            if name in c.tparams and name not in c.nested:
                return None
            if c.name == name:
                return ("i", c, "exact")
            mt = self.member_type(c, name)
            if mt is not None:
                return ("i", mt, "exact")
            c = c.outer
        t = f.top.get(name)
        if t is not None:
            return ("i", t, "exact")
        q = f.single.get(name)
        if q is not None:
            t = self.types.get(q)
            return ("i", t, "import") if t is not None else ("e", q, "external")
        owners = f.static_single.get(name)
        if owners:  # `import static a.b.Outer.Member;` naming a member type
            ot = self.types.get(owners[0])
            if ot is None:
                return ("e", f"{owners[0]}.{name}", "external")
            t = self.member_type(ot, name)
            if t is not None:
                return ("i", t, "import")
        t = self.pkg_types.get(f.package, {}).get(name)
        if t is not None:
            return ("i", t, "same_package")
        found: list[Any] = []
        ext_pkgs = []
        for od in f.ondemand:
            members = self.pkg_types.get(od)
            if members is not None:
                t = members.get(name)
                if t is not None:
                    found.append(("i", t, "import"))
                continue
            ot = self.types.get(od)
            if ot is not None:
                t = self.member_type(ot, name)
                if t is not None:
                    found.append(("i", t, "import"))
                continue
            ext_pkgs.append(od)
        for od in f.static_ondemand:
            ot = self.types.get(od)
            if ot is not None:
                t = self.member_type(ot, name)
                if t is not None:
                    found.append(("i", t, "import"))
        lang = self.pkg_types.get("java.lang")
        if lang is not None and name in lang:
            found.append(("i", lang[name], "import"))
        elif name in JAVA_LANG and f.package != "java.lang":
            found.append(("e", f"java.lang.{name}", "external"))
        uniq = {(r[0], r[1].fqn if r[0] == "i" else r[1]) for r in found}
        if len(uniq) == 1:
            return found[0]
        if not found and len(ext_pkgs) == 1:
            return ("e", f"{ext_pkgs[0]}.{name}", "external")
        return ("u", name, "unresolved")

    # --- hierarchy and members --------------------------------------------------------------
    def ancestors(self, t: TypeDecl) -> tuple[list[TypeDecl], list[str], bool]:
        """Internal ancestors nearest first (superclass chain, then interfaces breadth first),
        explicit external ancestors, and whether some ancestor could not be resolved."""
        if t._anc is not None:
            return t._anc
        t._anc = ([], [], False)
        chain: list[TypeDecl] = []
        ext: list[str] = []
        unknown = False
        seen = {t.fqn}
        pending_ifaces: list[Any] = []
        c: TypeDecl | None = t
        while c is not None:
            sup, ifaces = self.supers(c)
            pending_ifaces.extend(ifaces)
            nxt = None
            if sup is not None:
                if sup[0] == "i":
                    if sup[1].fqn not in seen:
                        seen.add(sup[1].fqn)
                        chain.append(sup[1])
                        nxt = sup[1]
                elif sup[0] == "e":
                    if sup[2] != "implicit":
                        ext.append(sup[1])
                else:
                    unknown = True
            c = nxt
        i = 0
        while i < len(pending_ifaces):
            ref = pending_ifaces[i]
            i += 1
            if ref[0] == "i":
                it = ref[1]
                if it.fqn in seen:
                    continue
                seen.add(it.fqn)
                chain.append(it)
                pending_ifaces.extend(self.supers(it)[1])
            elif ref[0] == "e":
                if ref[1] not in ext:
                    ext.append(ref[1])
            else:
                unknown = True
        t._anc = (chain, ext, unknown)
        return t._anc

    def field_type(self, t: TypeDecl, name: str) -> tuple[str, TypeDecl] | None:
        """Declared type of a field of `t` (or inherited), with the type declaring it."""
        ft = t.fields.get(name)
        if ft is not None:
            return ft, t
        for a in self.ancestors(t)[0]:
            ft = a.fields.get(name)
            if ft is not None:
                return ft, a
        return None
