"""Type names and hierarchy of a Java corpus.

Type names are resolved in Java's order: type variables in scope (no triple), the current type and
its member types (inherited ones too) outwards through enclosing types, the file's own types,
single-type imports ("import"), the same package ("same_package"), on-demand imports and
java.lang together (ambiguity -> unresolved), a lone external on-demand import, else unresolved.
Primitives, ``void`` and ``var`` produce no type triple; arrays and generics reduce to the
element / raw type.

A type ref is ``('i', TypeDecl, resolution)`` (internal), ``('e', fqn, 'external')`` or
``('u', name, 'unresolved')``; None for primitives and type variables.

What a file's resolution reads of other files is recorded, for incremental builds
(graphmer_core.kg.incremental): every lookup in the corpus-wide indexes (a type by qualified name
"t", a package "p", a type by package and simple name "m", whether any type has a member type of a
name "n"; found or not) adds its key to ``frame``, a set.
Every other way to reach another file's declarations goes through a memo, and each memo entry
keeps the keys its computation added (its own lookups and those of the memos it used), which a
later use adds to the frame again: whatever file asks first, a file's frame ends up holding every
lookup its rows depend on. A cycle guard read while its entry is being computed adds ``ANY``
(that file is resolved again in every build), since the entry's keys are not known yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphmer_core.kg.java.model import (
    IMPLICIT_SUPER, JAVA_LANG, PRIMITIVES, MethodDecl, TypeDecl, Unit, base,
)
from graphmer_core.kg.resolution import ParsedFile, Resolved


ANY = "*"  # a frame key: depends on anything (a cycle guard was read)
BUSY = object()  # a memo entry being computed (its cycle guard)
EMPTY: frozenset[str] = frozenset()


def _merged(frame: set[str], deps: set[frozenset[str]]) -> frozenset[str]:
    """A frame's keys and those of the memo entries it used, as one frozenset (shared, not
    copied, where it is one entry's)."""
    if not deps:
        return frozenset(frame) if frame else EMPTY
    if not frame and len(deps) == 1:
        return next(iter(deps))
    return frozenset(frame).union(*deps)


class Lookups(dict):
    """A dict of the corpus-wide index whose reads are recorded as `prefix + key` in the index's
    current frame; writes (indexing) are not."""

    __slots__ = ("ix", "prefix", "keys")

    def __init__(self, ix: TypeIndex, prefix: str) -> None:
        super().__init__()
        self.ix = ix
        self.prefix = prefix
        self.keys: dict[str, str] = {}  # key -> its frame key, made once (its hash cached)

    def _record(self, key: str) -> None:
        k = self.keys.get(key)
        if k is None:
            k = self.keys[key] = self.prefix + key
        self.ix.frame.add(k)

    def get(self, key, default=None):
        k = self.keys.get(key)  # _record, inline: the hot one
        if k is None:
            k = self.keys[key] = self.prefix + key
        self.ix.frame.add(k)
        return dict.get(self, key, default)

    def __getitem__(self, key):
        self._record(key)
        return dict.__getitem__(self, key)

    def __contains__(self, key):
        self._record(key)
        return dict.__contains__(self, key)


class TypeIndex:
    """Every type of the corpus by qualified name and package; type names resolved in Java's order;
    supertypes, ancestors and inherited fields."""


    def __init__(self, corpus: str, files: list[ParsedFile]) -> None:
        self.corpus = corpus
        self.frame: set[str] = set()  # lookup keys read since the frame was last swapped
        self.deps: set[frozenset[str]] = set()  # the keys of memo entries used meanwhile
        self.types: dict[str, TypeDecl] = Lookups(self, "t\0")
        self.pkg_types: dict[str, dict[str, TypeDecl]] = Lookups(self, "p\0")
        self.pkg_path: dict[str, str] = {}
        self.nested_names: set[str] = set()  # simple names of member types, of all types (key "n")
        self.out = Resolved()
        self.ext_seen: set[str] = set()
        self.files: list[Unit] = []  # their members are declared on first use (Unit.methods)
        # memos of MemberIndex and GenericIndex (each entry: (value, its lookup keys))
        self._ptypes: dict[MethodDecl, Any] = {}  # parameter types of methods
        self._gmemo: dict[tuple[Any, ...], Any] = {}  # generic types as written, by context type
        self._anc_memo: dict[tuple[TypeDecl, TypeDecl], Any] = {}  # type arguments of ancestors
        self._rets: dict[MethodDecl, Any] = {}  # declared return types
        for pf in files:
            self._index(pf)

    # --- indexing ---------------------------------------------------------------------------
    def _index(self, pf: ParsedFile) -> None:
        f = Unit(pf, self.corpus)
        types = f.types
        for row in pf.facts.get("types", ()):
            outer = types[row[2]] if 0 <= row[2] < len(types) else None
            if outer is not None:
                fqn = f"{outer.fqn}.{row[1]}"
            else:
                fqn = f"{f.package}.{row[1]}" if f.package else row[1]
            t = TypeDecl(fqn, self.corpus, row, f, outer)
            f.add(t)
            if outer is not None:
                outer.nested.setdefault(t.name, t)
                self.nested_names.add(t.name)
            else:
                f.top.setdefault(t.name, t)
                members = dict.get(self.pkg_types, f.package)
                if members is None:
                    members = self.pkg_types[f.package] = Lookups(self, f"m\0{f.package}\0")
                members.setdefault(t.name, t)
            self.types.setdefault(fqn, t)
        if types and f.package not in self.pkg_path:
            self.pkg_path[f.package] = pf.path.rpartition("/")[0]
        self.files.append(f)

    # --- type names -------------------------------------------------------------------------
    def member_type(self, t: TypeDecl, name: str, depth: int = 0) -> TypeDecl | None:
        """A member type of `t`, declared or inherited from internal supertypes."""
        hit = t.nested.get(name)
        if hit is not None or depth > 20:
            return hit
        self.frame.add("n\0" + name)
        if name not in self.nested_names:  # no type of the corpus has a member type so named
            return None
        hit = t._members.get(name)
        if hit is not None and hit is not BUSY:  # `guarded`'s hit, inline: a hot path
            if hit[1]:
                self.deps.add(hit[1])
            return hit[0]
        return self.guarded(t._members, name, None, self._member_type, t, name, depth)

    def _member_type(self, t: TypeDecl, name: str, depth: int) -> TypeDecl | None:
        sup, ifaces = self.supers(t)
        for ref in ([sup] if sup else []) + ifaces:
            if ref[0] == "i":
                found = self.member_type(ref[1], name, depth + 1)
                if found is not None:
                    return found
        return None

    def supers(self, t: TypeDecl) -> tuple[Any, list[Any]]:
        """(superclass ref or None, [interface refs]), resolved lazily; implicit supers included."""
        return self.guarded(t.cache, "<supers>", (None, []), self._supers, t)

    def _supers(self, t: TypeDecl) -> tuple[Any, list[Any]]:
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
        return sup, ifaces

    def type_ref(self, text: str, f: Unit, ctx: TypeDecl | None, tparams: frozenset[str] = frozenset()
                 ) -> Any:
        """('i', TypeDecl, resolution) | ('e', fqn, resolution) | ('u', name, 'unresolved') | None."""
        name = base(text)
        if not name or name in PRIMITIVES:
            return None
        head = name.partition(".")[0]
        if head in tparams:
            return None
        if ctx is None:
            return self._type_ref(name, f, None)
        hit = ctx.cache.get(name)
        if hit is not None:  # the hot path of `memo`, inline
            if hit[1]:
                self.deps.add(hit[1])
            return hit[0]
        return self._compute(ctx.cache, name, self._type_ref, (name, ctx.file, ctx))  # in ctx's own file

    # --- memos (see the module docstring) ----------------------------------------------------
    def memo(self, table: dict, key: Any, compute: Callable[..., Any], *args: Any) -> Any:
        """``table[key]``, computed once as ``compute(*args)``; the lookups it made go into the frame
        whenever it is used."""
        hit = table.get(key)
        if hit is not None:
            if hit[1]:
                self.deps.add(hit[1])
            return hit[0]
        return self._compute(table, key, compute, args)

    def guarded(self, table: dict, key: Any, guard: Any, compute: Callable[..., Any], *args: Any) -> Any:
        """`memo` for a computation that may reach its own entry (a cyclic or self-referring
        hierarchy): there it reads `guard`. An exception leaves the guard in place."""
        hit = table.get(key)
        if hit is not None:
            if hit is BUSY:
                self.frame.add(ANY)
                return guard
            if hit[1]:
                self.deps.add(hit[1])
            return hit[0]
        table[key] = BUSY
        return self._compute(table, key, compute, args)

    def _compute(self, table: dict, key: Any, compute: Callable[..., Any], args: tuple) -> Any:
        """Compute a memo entry in frames of its own; the entry keeps its keys as one frozenset
        (its hash cached: a use adds it to `deps` at the cost of one set insertion)."""
        frame, deps = self.frame, self.deps
        self.frame, self.deps = set(), set()
        try:
            v = compute(*args)
        finally:
            mine = _merged(self.frame, self.deps)
            self.frame, self.deps = frame, deps
            if mine:
                deps.add(mine)
        table[key] = (v, mine)
        return v

    def reads(self) -> frozenset[str]:
        """The lookup keys of the current frame, with those of the memos it used."""
        return _merged(self.frame, self.deps)

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

    def pkg_member(self, package: str, name: str) -> TypeDecl | None:
        """The top-level type `name` of a package; one lookup ("m"), whether the package exists
        or not."""
        members = dict.get(self.pkg_types, package)
        if members is None:
            self.frame.add(f"m\0{package}\0{name}")
            return None
        return members.get(name)

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
        t = self.pkg_member(f.package, name)
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
        t = self.pkg_member("java.lang", name)
        if t is not None:
            found.append(("i", t, "import"))
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
        return self.guarded(t.cache, "<ancestors>", ([], [], False), self._ancestors, t)

    def _ancestors(self, t: TypeDecl) -> tuple[list[TypeDecl], list[str], bool]:
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
        return chain, ext, unknown

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
