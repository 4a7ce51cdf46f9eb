"""Java syntax facts (graphmer_core.parsing.java) of one corpus -> entities and triples.

Naming
- ``qualified_name``: ``package.Outer.Inner``, ``package.Class.method``, constructors
  ``package.Class.<init>``, fields and enum constants ``package.Class.NAME``. Local classes are
  named as members of their enclosing type.
- ``entity_id``: ``java:<corpus>:<qualified_name>``; methods and constructors append their
  parameter types as written, generic arguments stripped, varargs ``T...`` as ``T[]``, e.g.
  ``java:jdk:java.util.ArrayList.add(int,E)``. A field named like a member type of its class (legal
  in Java) gets ``#field`` appended to its id. Packages are ``java:<corpus>:<package>`` (the
  unnamed package is ``""``).
- externals: ``java:ext:<fully.qualified.Name>`` (ExternalClass), methods of external types
  ``java:ext:java.util.List.add`` (ExternalFunction), on-demand imports of packages outside the
  corpus and static-imported external members ``java:ext:a.b`` (ExternalSymbol). A simple type name
  that cannot be placed (not imported, ambiguous between several on-demand imports, ...) becomes
  ``java:ext:?.<Name>`` (ExternalSymbol, resolution "unresolved"); it is never guessed into an
  internal type.

Type names are resolved in Java's order: type variables in scope (no triple), the current type and
its member types (inherited ones too) outwards through enclosing types, the file's own types,
single-type imports ("import"), the same package ("same_package"), on-demand imports and
java.lang together (ambiguity -> unresolved), a lone external on-demand import, else unresolved.
Primitives, ``void`` and ``var`` produce no type triple; arrays and generics reduce to the
element / raw type.

Calls: an unqualified ``m()`` looks in the current type's hierarchy (superclasses, then
interfaces) then in the enclosing types, then in static imports ("exact" when found in the type
itself, "inherited" above it, "import" through a static import). ``this.m()`` is "self",
``super.m()`` "super", a receiver with a declared type (field, parameter, local, cast) "type_hint",
``var x = new T()`` "assigned", ``Type.m()`` and ``new T().m()`` "exact", a chain ``a().b()`` only
when ``a`` resolves to an internal method whose declared return type resolves ("type_hint").
Overloads are chosen by arity (exact arity before varargs), then by the kinds of literal arguments;
when that still leaves several candidates there is no edge; "overload" marks an edge chosen among
several overloads. A receiver of unknown type gives no edge (untyped lambda parameters, names
declared with different types in one method, results of unresolved calls). Inside an anonymous
class an unqualified call looks in its (internal) supertype first, then in the enclosing types;
when that supertype is external the call is dropped. Methods not found in an internal hierarchy
go to its single explicit external ancestor (ExternalFunction), to the single external static
on-demand import, to ``java.lang.Object`` for its methods, or are dropped.
``new T(..)`` gives ``instantiates`` (not for interfaces: anonymous classes) and a call to the
constructor chosen by arity; ``this(..)``/``super(..)`` call constructors ("self"/"super").

Overrides: a non-static, non-private method overrides the nearest method of the same name and
arity in its superclass chain, then its interfaces breadth first, whose erased parameter simple
types are equal ("exact") or are type variables of the overridden side standing for non-primitive
types ("inherited"). With no internal match, an ``@Override`` method overrides the method of its
single explicit external ancestor (or ``java.lang.Object``'s), as an ExternalFunction.
"""

from __future__ import annotations

from typing import Any

from graphmer_core.kg.resolution import ParsedFile, Resolved

LANG = "java"

PRIMITIVES = frozenset({"int", "long", "short", "byte", "char", "boolean", "float", "double",
                        "void", "var"})
JAVA_LANG = frozenset("""
    AbstractMethodError Appendable ArithmeticException ArrayIndexOutOfBoundsException
    ArrayStoreException AssertionError AutoCloseable Boolean BootstrapMethodError Byte
    CharSequence Character Class ClassCastException ClassCircularityError ClassFormatError
    ClassLoader ClassNotFoundException ClassValue CloneNotSupportedException Cloneable Comparable
    Compiler Deprecated Double Enum EnumConstantNotPresentException Error Exception
    ExceptionInInitializerError Float FunctionalInterface IllegalAccessError
    IllegalAccessException IllegalArgumentException IllegalCallerException
    IllegalMonitorStateException IllegalStateException IllegalThreadStateException
    IncompatibleClassChangeError IndexOutOfBoundsException InheritableThreadLocal
    InstantiationError InstantiationException Integer InternalError InterruptedException
    Iterable LayerInstantiationException LinkageError Long MatchException Math Module ModuleLayer
    NegativeArraySizeException NoClassDefFoundError NoSuchFieldError NoSuchFieldException
    NoSuchMethodError NoSuchMethodException NullPointerException Number NumberFormatException
    Object OutOfMemoryError Override Package Process ProcessBuilder ProcessHandle Readable
    Record ReflectiveOperationException Runnable Runtime RuntimeException RuntimePermission
    SafeVarargs SecurityException SecurityManager Short StackOverflowError StackTraceElement
    StackWalker StrictMath String StringBuffer StringBuilder StringIndexOutOfBoundsException
    SuppressWarnings System Thread ThreadDeath ThreadGroup ThreadLocal Throwable
    TypeNotPresentException UnknownError UnsatisfiedLinkError UnsupportedClassVersionError
    UnsupportedOperationException VerifyError VirtualMachineError Void
""".split())
OBJECT_METHODS = frozenset({"equals", "hashCode", "toString", "getClass", "clone", "finalize",
                            "notify", "notifyAll", "wait"})
_TYPE_KIND = {"class": "Class", "record": "Class", "interface": "Interface",
              "annotation": "Interface", "enum": "Enum"}
_IMPLICIT_SUPER = {"class": "java.lang.Object", "enum": "java.lang.Enum",
                   "record": "java.lang.Record"}
# literal argument kind -> parameter types (simple names) it can be passed to
_LIT_OK = {
    "int": {"int", "long", "float", "double", "Integer", "Number", "Object", "Comparable",
            "Serializable"},
    "long": {"long", "float", "double", "Long", "Number", "Object", "Comparable", "Serializable"},
    "float": {"float", "double", "Float", "Number", "Object", "Comparable", "Serializable"},
    "double": {"double", "Double", "Number", "Object", "Comparable", "Serializable"},
    "char": {"char", "int", "long", "float", "double", "Character", "Object", "Comparable",
             "Serializable"},
    "boolean": {"boolean", "Boolean", "Object", "Comparable", "Serializable"},
    "String": {"String", "CharSequence", "Object", "Comparable", "Serializable"},
}
_AMBIGUOUS = object()


def _base(t: str) -> str:
    """`a.b.C[][]` -> `a.b.C`."""
    i = t.find("[")
    return t if i < 0 else t[:i]


def _simple(t: str) -> str:
    """`java.util.Map.Entry[]` -> `Entry[]` (the erased simple type of a parameter)."""
    i = t.rfind(".", 0, t.find("[") if "[" in t else len(t))
    return t if i < 0 else t[i + 1:]


def _field_id(corpus: str, t: _Type, name: str) -> str:
    """A field's id; `#field` is appended when a member type of the same class has its name."""
    base = f"java:{corpus}:{t.fqn}.{name}"
    return f"{base}#field" if name in t.nested else base


class _File:
    __slots__ = ("pf", "package", "single", "ondemand", "static_single", "static_ondemand", "top")

    def __init__(self, pf: ParsedFile) -> None:
        self.pf = pf
        self.package: str = pf.facts.get("package", "") or ""
        self.single: dict[str, str] = {}
        self.ondemand: list[str] = []
        self.static_single: dict[str, list[str]] = {}
        self.static_ondemand: list[str] = []
        self.top: dict[str, _Type] = {}
        for name, static, on_demand, _line in pf.facts.get("imports", ()):
            if static:
                if on_demand:
                    self.static_ondemand.append(name)
                elif "." in name:
                    owner, _, member = name.rpartition(".")
                    self.static_single.setdefault(member, []).append(owner)
            elif on_demand:
                self.ondemand.append(name)
            else:
                self.single[name.rpartition(".")[2]] = name


class _Type:
    __slots__ = ("fqn", "id", "kind", "decl", "name", "file", "outer", "tparams", "row", "nested",
                 "methods", "fields", "cache", "_supers", "_members", "_anc")

    def __init__(self, fqn: str, corpus: str, row: list[Any], f: _File, outer: _Type | None):
        self.fqn = fqn
        self.id = f"java:{corpus}:{fqn}"
        self.decl = row[0]
        self.kind = _TYPE_KIND.get(row[0], "Class")
        self.name = row[1]
        self.file = f
        self.outer = outer
        self.tparams = frozenset(row[5]) | (outer.tparams if outer is not None else frozenset())
        self.row = row
        self.nested: dict[str, _Type] = {}
        self.methods: dict[str, list[_Method]] = {}
        self.fields: dict[str, str] = {}
        self.cache: dict[str, Any] = {}
        self._supers: Any = None
        self._members: dict[str, Any] = {}
        self._anc: Any = None


class _Method:
    __slots__ = ("id", "name", "owner", "params", "ptypes", "arity", "varargs", "ret", "static",
                 "private", "tparams", "row", "simple")

    def __init__(self, owner: _Type, corpus: str, row: list[Any]):
        self.owner = owner
        self.name = row[1]
        self.params = row[4]
        self.ptypes = [p[0] for p in row[4]]
        self.arity = len(row[4])
        flags = row[9]
        self.varargs = "v" in flags
        self.static = "s" in flags
        self.private = "p" in flags
        self.ret = row[5]
        self.tparams = frozenset(row[7])
        self.row = row
        self.simple = tuple(_simple(p) for p in self.ptypes)
        self.id = f"java:{corpus}:{owner.fqn}.{self.name}({','.join(self.ptypes)})"


class _Resolver:
    def __init__(self, corpus: str, files: list[ParsedFile]) -> None:
        self.corpus = corpus
        self.types: dict[str, _Type] = {}
        self.pkg_types: dict[str, dict[str, _Type]] = {}
        self.pkg_path: dict[str, str] = {}
        self.out = Resolved()
        self.ext_seen: set[str] = set()
        self.files: list[tuple[_File, list[_Type], list[_Method | None]]] = []
        for pf in files:
            self._index(pf)

    # --- indexing ---------------------------------------------------------------------------
    def _index(self, pf: ParsedFile) -> None:
        f = _File(pf)
        facts = pf.facts
        types: list[_Type] = []
        for row in facts.get("types", ()):
            outer = types[row[2]] if 0 <= row[2] < len(types) else None
            if outer is not None:
                fqn = f"{outer.fqn}.{row[1]}"
            else:
                fqn = f"{f.package}.{row[1]}" if f.package else row[1]
            t = _Type(fqn, self.corpus, row, f, outer)
            types.append(t)
            if outer is not None:
                outer.nested.setdefault(t.name, t)
            else:
                f.top.setdefault(t.name, t)
                self.pkg_types.setdefault(f.package, {}).setdefault(t.name, t)
            self.types.setdefault(fqn, t)
        methods: list[_Method | None] = []
        for row in facts.get("methods", ()):
            owner = types[row[0]] if 0 <= row[0] < len(types) else None
            if owner is None:
                methods.append(None)
                continue
            m = _Method(owner, self.corpus, row)
            owner.methods.setdefault(m.name, []).append(m)
            methods.append(m)
        for row in facts.get("fields", ()):
            if 0 <= row[0] < len(types):
                owner = types[row[0]]
                owner.fields.setdefault(row[1], row[4] or owner.fqn)
        if types and f.package not in self.pkg_path:
            self.pkg_path[f.package] = pf.path.rpartition("/")[0]
        self.files.append((f, types, methods))

    # --- type names -------------------------------------------------------------------------
    def member_type(self, t: _Type, name: str, depth: int = 0) -> _Type | None:
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

    def supers(self, t: _Type) -> tuple[Any, list[Any]]:
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
        elif t.decl in _IMPLICIT_SUPER and t.fqn != "java.lang.Object":
            q = _IMPLICIT_SUPER[t.decl]
            it = self.types.get(q)
            sup = ("i", it, "implicit") if it is not None else ("e", q, "implicit")
        ifaces = [r for r in (self.type_ref(x, t.file, ctx, tp) for x in row[7]) if r is not None]
        t._supers = (sup, ifaces)
        return t._supers

    def type_ref(self, text: str, f: _File, ctx: _Type | None, tparams: frozenset[str] = frozenset()
                 ) -> Any:
        """('i', _Type, resolution) | ('e', fqn, resolution) | ('u', name, 'unresolved') | None."""
        name = _base(text)
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

    def _type_ref(self, name: str, f: _File, ctx: _Type | None) -> Any:
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

    def _simple_ref(self, name: str, f: _File, ctx: _Type | None) -> Any:
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
    def ancestors(self, t: _Type) -> tuple[list[_Type], list[str], bool]:
        """Internal ancestors nearest first (superclass chain, then interfaces breadth first),
        explicit external ancestors, and whether some ancestor could not be resolved."""
        if t._anc is not None:
            return t._anc
        t._anc = ([], [], False)
        chain: list[_Type] = []
        ext: list[str] = []
        unknown = False
        seen = {t.fqn}
        pending_ifaces: list[Any] = []
        c: _Type | None = t
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

    def field_type(self, t: _Type, name: str) -> tuple[str, _Type] | None:
        """Declared type of a field of `t` (or inherited), with the type declaring it."""
        ft = t.fields.get(name)
        if ft is not None:
            return ft, t
        for a in self.ancestors(t)[0]:
            ft = a.fields.get(name)
            if ft is not None:
                return ft, a
        return None

    def find_method(self, t: _Type, name: str, argc: int, kinds: list[str], inherit: bool = True
                    ) -> tuple[Any, str]:
        """(method, exact|inherited|overload) or (None, none|nofit|ambiguous|external:<fqn>)."""
        cands: list[tuple[_Method, bool]] = []
        seen: set[tuple[str, ...]] = set()
        for m in t.methods.get(name, ()):
            if m.simple not in seen:
                seen.add(m.simple)
                cands.append((m, True))
        if inherit:
            for a in self.ancestors(t)[0]:
                for m in a.methods.get(name, ()):
                    if m.simple not in seen and not m.private:
                        seen.add(m.simple)
                        cands.append((m, False))
            if not cands and t.kind == "Interface":
                obj = self.types.get("java.lang.Object")
                if obj is not None and obj is not t:
                    for m in obj.methods.get(name, ()):
                        cands.append((m, False))
        if not cands:
            if not inherit:
                return None, "none"
            _chain, ext, unknown = self.ancestors(t)
            if unknown:
                return None, "none"
            if len(ext) == 1:
                return None, f"external:{ext[0]}"
            if not ext and name in OBJECT_METHODS and "java.lang.Object" not in self.types:
                return None, "external:java.lang.Object"
            return None, "none"
        fit = [c for c in cands if c[0].arity == argc and not c[0].varargs]
        if not fit:
            fit = [c for c in cands if c[0].varargs and (argc >= c[0].arity - 1)]
        if len(fit) > 1 and any(kinds):
            fit = self._by_literals(fit, kinds)
        if len(fit) != 1:
            return None, "ambiguous" if fit else "nofit"
        m, own = fit[0]
        if len(cands) > 1:
            return m, "overload"
        return m, "exact" if own else "inherited"

    def _by_literals(self, fit: list[tuple[_Method, bool]], kinds: list[str]
                     ) -> list[tuple[_Method, bool]]:
        ok = []
        exact = []
        for c in fit:
            m = c[0]
            good = True
            all_exact = True
            for k, p in zip(kinds, m.simple, strict=False):
                if not k:
                    continue
                if k == "null":
                    good = p not in PRIMITIVES
                elif p in _LIT_OK[k] or (p in m.tparams or p in m.owner.tparams):
                    all_exact = all_exact and p == k
                else:
                    good = False
                if not good:
                    break
            if good:
                ok.append(c)
                if all_exact:
                    exact.append(c)
        if len(ok) > 1 and len(exact) == 1:
            return exact
        return ok

    # --- emission ---------------------------------------------------------------------------
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
        for f, types, methods in self.files:
            _FileEmitter(self, f, types, methods).emit()
        return out

    def release(self) -> None:
        """Break the type <-> method/file cycles, so the facts go with the last reference, not
        with the next cyclic collection (which scans every object still alive by then)."""
        for f, types, _methods in self.files:
            f.top.clear()
            for t in types:
                t.nested.clear()
                t.methods.clear()
                t.cache.clear()
                t._members.clear()
                t._supers = t._anc = t.outer = None
        self.types.clear()
        self.pkg_types.clear()


class _FileEmitter:
    def __init__(self, r: _Resolver, f: _File, types: list[_Type], methods: list[_Method | None]):
        self.r = r
        self.f = f
        self.types = types
        self.methods = methods
        self.path = f.pf.path
        self.sha = f.pf.sha256
        self.corpus = r.corpus
        self.triples = r.out.triples
        self.locals: dict[int, dict[str, Any]] = {}
        self.call_memo: dict[int, Any] = {}

    def triple(self, head: str, rel: str, tail: str, line: int, res: str) -> None:
        self.triples.append((head, rel, tail, LANG, self.corpus, self.path, line, res))

    def entity(self, eid: str, kind: str, name: str, qn: str, start: int, end: int) -> None:
        self.r.out.entities.append((eid, kind, name, qn, LANG, self.corpus, self.path, start, end, self.sha))

    def type_triple(self, head: str, rel: str, text: str, line: int, ctx: _Type | None,
                    tparams: frozenset[str], allowed: frozenset[str] | None = None) -> None:
        ref = self.r.type_ref(text, self.f, ctx, tparams)
        if ref is None:
            return
        if allowed is not None and ref[0] == "i" and ref[1].kind not in allowed:
            return
        tail, _kind, res = self.r.ref_id(ref)
        self.triple(head, rel, tail, line, res)

    def scope(self, s: Any) -> tuple[str, _Type, _Method | None, frozenset[str]] | None:
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
                        tail = _field_id(c, ot, member)
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
            fid = _field_id(c, t, row[1])
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
        # locals: per scope, name -> declared type (or _AMBIGUOUS)
        locs = self.locals
        for s, name, ty, vt in facts.get("locals", ()):
            d = locs.setdefault(s, {})
            v = (ty, vt)
            if d.get(name, v) != v:
                d[name] = _AMBIGUOUS
            else:
                d[name] = v
        for s, m in enumerate(self.methods):
            if m is not None:
                d = locs.setdefault(s, {})
                for ty, name in m.params:
                    v = (ty, "")
                    d[name] = _AMBIGUOUS if d.get(name, v) != v else v
        # code references
        for s, ty, argc, line, anon in facts.get("news", ()):
            sc = self.scope(s)
            if sc is None:
                continue
            head, t, m, tp = sc
            ref = r.type_ref(ty, f, t, tp)
            if ref is None:
                continue
            if ref[0] == "i" and ref[1].kind not in _CE:
                continue  # `new Iface() {...}`: an anonymous class, not an instance of Iface
            tail, _k, res = r.ref_id(ref)
            self.triple(head, "instantiates", tail, line, res)
            if ref[0] == "i" and not anon:
                ctor, how = r.find_method(ref[1], "<init>", argc, [], inherit=False)
                if ctor is not None:
                    self.triple(head, "calls", ctor.id, line, "overload" if how == "overload" else res)
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
        calls = facts.get("calls", ())
        self.calls = calls
        for k in range(len(calls)):  # a chained call's receiver call comes first
            self.call(k)

    def overrides(self, m: _Method) -> None:
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
                    if not all(p == q or (_base(q) in tv and _base(p) not in PRIMITIVES)
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

    def local_type(self, s: int, name: str) -> tuple[str, str] | None:
        d = self.locals.get(s)
        if d is None:
            return None
        v = d.get(name)
        return v  # (type, var_new_type), _AMBIGUOUS or None

    def receiver_type(self, k: int, sc: tuple[str, _Type, _Method | None, frozenset[str]],
                      rk: str, rv: Any, s: int) -> tuple[Any, str] | None:
        """(type ref, resolution) of a call's receiver; None when unknown."""
        r, f = self.r, self.f
        head, t, m, tp = sc
        if rk == "id" or rk == "q":
            parts = rv.split(".") if rk == "q" else [rv]
            first = parts[0]
            ref, res = None, "type_hint"
            lv = self.local_type(s, first)
            if lv is _AMBIGUOUS:
                return None
            if lv is not None:
                if lv[0] == "?":
                    return None  # an untyped lambda parameter
                if lv[0] == "var":
                    if not lv[1]:
                        return None
                    ref, res = r.type_ref(lv[1], f, t, tp), "assigned"
                else:
                    ref = r.type_ref(lv[0], f, t, tp)
            else:
                c: _Type | None = t
                while c is not None and ref is None:
                    ft = r.field_type(c, first)
                    if ft is not None:
                        ref = r.type_ref(ft[0], f, ft[1], frozenset())
                        if ref is None:
                            return None
                    c = c.outer
            if ref is None:
                # a type name: Type.m(), Outer.Inner.m(), java.util.Objects.m(), System.out.m()
                for i in range(len(parts), 0, -1):
                    name = ".".join(parts[:i])
                    if i == 1 and first[:1].islower():
                        return None
                    tr = r.type_ref(name, f, t, tp)
                    if tr is not None and tr[0] != "u":
                        ref, res = tr, "exact"
                        parts = parts[i - 1:]
                        break
                else:
                    return None
                if ref is None:
                    return None
            for seg in parts[1:]:
                if ref is None or ref[0] != "i":
                    return None
                ft = r.field_type(ref[1], seg)
                if ft is None:
                    return None
                ref, res = r.type_ref(ft[0], f, ft[1], frozenset()), "type_hint"
            return (ref, res) if ref is not None else None
        if rk == "tf":
            c = t
            ft = r.field_type(c, rv)
            if ft is None:
                return None
            ref = r.type_ref(ft[0], f, ft[1], frozenset())
            return (ref, "type_hint") if ref is not None else None
        if rk == "new":
            ref = r.type_ref(rv, f, t, tp)
            return (ref, "exact") if ref is not None else None
        if rk == "cast":
            ref = r.type_ref(rv, f, t, tp)
            return (ref, "type_hint") if ref is not None else None
        if rk == "str":
            it = r.types.get("java.lang.String")
            return (("i", it, "exact") if it is not None else ("e", "java.lang.String", "external"),
                    "exact")
        if rk == "call" and isinstance(rv, int):
            target = self.call_memo.get(rv)
            if target is None or not target.ret:
                return None
            ref = r.type_ref(target.ret, target.owner.file, target.owner, target.tparams)
            return (ref, "type_hint") if ref is not None else None
        return None

    def call(self, k: int) -> None:
        s, name, rk, rv, argc, kinds, line, anon = self.calls[k]
        sc = self.scope(s)
        if sc is None:
            return
        r = self.r
        head, t, m, tp = sc
        target = None
        how = "none"
        res = ""
        if anon and anon != "<enum>" and rk in ("", "this", "super"):
            # inside an anonymous class: its own supertype first, the enclosing type after
            aref = r.type_ref(anon, self.f, t, tp)
            if aref is None or aref[0] != "i":
                return
            target, how = r.find_method(aref[1], name, argc, kinds)
            if target is not None:
                res = "super" if rk == "super" else "inherited"
            elif how != "none" or rk != "":
                return
        if target is not None:
            pass
        elif name == "<init>":
            if rk == "this":
                target, how = r.find_method(t, "<init>", argc, kinds, inherit=False)
                res = "self"
            elif rk == "super":
                sup = r.supers(t)[0]
                if sup is None or sup[0] != "i":
                    return
                target, how = r.find_method(sup[1], "<init>", argc, kinds, inherit=False)
                res = "super"
            else:
                return
        elif rk == "":
            c: _Type | None = t
            guess = ""  # an external ancestor that may declare the method
            while c is not None:
                target, how = r.find_method(c, name, argc, kinds)
                if how.startswith("external:"):
                    guess = guess or how[9:]
                elif how != "none":
                    break  # Java stops at the innermost type that has a method of that name
                c = c.outer
            if target is None and how in ("none", "") or how.startswith("external:"):
                target = None
                owners = self.f.static_single.get(name)
                if owners:
                    if len(owners) > 1:
                        return
                    ot = r.types.get(owners[0])
                    if ot is None:
                        self.triple(head, "calls", r.ext_method(owners[0], name), line, "external")
                        return
                    target, how = r.find_method(ot, name, argc, kinds)
                    res = "import"
                else:
                    hits = [r.types[o] for o in self.f.static_ondemand
                            if o in r.types and name in r.types[o].methods]
                    if len(hits) == 1:
                        target, how = r.find_method(hits[0], name, argc, kinds)
                        res = "import"
                    elif guess and not hits:
                        self.triple(head, "calls", r.ext_method(guess, name), line, "external")
                        return
                    elif not hits:
                        ext = [o for o in self.f.static_ondemand if o not in r.types]
                        if len(ext) == 1:  # `import static org.junit.Assert.*; assertEquals(..)`
                            self.triple(head, "calls", r.ext_method(ext[0], name), line, "external")
                        return
            if target is None:
                return
            if not res:
                res = "inherited" if how == "inherited" else "exact"
        elif rk == "this":
            target, how = r.find_method(t, name, argc, kinds)
            res = "self"
            if target is None and how.startswith("external:"):
                self.triple(head, "calls", r.ext_method(how[9:], name), line, "external")
                return
        elif rk == "super":
            sup = r.supers(t)[0]
            if sup is None:
                return
            if sup[0] == "e":
                self.triple(head, "calls", r.ext_method(sup[1], name), line, "external")
                return
            if sup[0] != "i":
                return
            target, how = r.find_method(sup[1], name, argc, kinds)
            res = "super"
        else:
            rt = self.receiver_type(k, sc, rk, rv, s)
            if rt is None:
                return
            ref, res = rt
            if ref is None or ref[0] == "u":
                return
            if ref[0] == "e":
                self.triple(head, "calls", r.ext_method(ref[1], name), line, "external")
                return
            target, how = r.find_method(ref[1], name, argc, kinds)
            if target is None:
                if how.startswith("external:"):
                    self.triple(head, "calls", r.ext_method(how[9:], name), line, "external")
                return
        if target is None:
            return
        if how == "overload":
            res = "overload"
        self.call_memo[k] = target
        self.triple(head, "calls", target.id, line, res)


def resolve(corpus: str, files: list[ParsedFile]) -> Resolved:
    """Entities and triples of the Java files of one corpus."""
    r = _Resolver(corpus, [f for f in files if f.language == LANG])
    try:
        return r.run()
    finally:
        r.release()
