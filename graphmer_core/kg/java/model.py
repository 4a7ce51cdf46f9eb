"""What the Java resolver knows of a corpus: its compilation units, type and method declarations.

Plain records built from the syntax facts (graphmer_core.parsing.java), with the constants of the
language the resolver needs (primitives, java.lang's simple names, java.lang.Object's methods).
"""

from __future__ import annotations

from typing import Any

from graphmer_core.kg.resolution import ParsedFile

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
TYPE_KIND = {"class": "Class", "record": "Class", "interface": "Interface",
              "annotation": "Interface", "enum": "Enum"}
IMPLICIT_SUPER = {"class": "java.lang.Object", "enum": "java.lang.Enum",
                   "record": "java.lang.Record"}


def base(t: str) -> str:
    """`a.b.C[][]` -> `a.b.C`."""
    i = t.find("[")
    return t if i < 0 else t[:i]


def simple(t: str) -> str:
    """`java.util.Map.Entry[]` -> `Entry[]` (the erased simple type of a parameter)."""
    i = t.rfind(".", 0, t.find("[") if "[" in t else len(t))
    return t if i < 0 else t[i + 1:]


def field_id(corpus: str, t: TypeDecl, name: str) -> str:
    """A field's id; `#field` is appended when a member type of the same class has its name."""
    base = f"java:{corpus}:{t.fqn}.{name}"
    return f"{base}#field" if name in t.nested else base


class Unit:
    __slots__ = ("pf", "corpus", "package", "single", "ondemand", "static_single", "static_ondemand", "top",
                 "types", "_methods")

    def __init__(self, pf: ParsedFile, corpus: str) -> None:
        self.pf = pf
        self.corpus = corpus
        self.package: str = pf.facts.get("package", "") or ""
        self.single: dict[str, str] = {}
        self.ondemand: list[str] = []
        self.static_single: dict[str, list[str]] = {}
        self.static_ondemand: list[str] = []
        self.top: dict[str, TypeDecl] = {}
        self.types: list[TypeDecl] = []  # in the order of the facts' rows (their indices)
        self._methods: list[MethodDecl | None] | None = None
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

    def add(self, t: TypeDecl) -> None:
        """One more of the file's types (in the order of its rows), its members undeclared yet."""
        i = len(self.types)
        self.types.append(t)
        t.methods, t.fields, t.gfields = (_Undeclared(self, i, name) for name in ("methods", "fields", "gfields"))

    @property
    def methods(self) -> list[MethodDecl | None]:
        """The file's methods by row (None where a row has no owner). They and the fields are
        declared on first use: a rebuild that resolves one file asks for a few files' members, and
        declaring the whole corpus's took most of its type index's time."""
        if self._methods is None:
            self._methods = _declare_members(self)
        return self._methods


class TypeDecl:
    __slots__ = ("fqn", "id", "kind", "decl", "name", "file", "outer", "tparams", "row", "nested",
                 "methods", "fields", "gfields", "cache", "_members")

    def __init__(self, fqn: str, corpus: str, row: list[Any], f: Unit, outer: TypeDecl | None):
        self.fqn = fqn
        self.id = f"java:{corpus}:{fqn}"
        self.decl = row[0]
        self.kind = TYPE_KIND.get(row[0], "Class")
        self.name = row[1]
        self.file = f
        self.outer = outer
        self.tparams = frozenset(row[5]) | (outer.tparams if outer is not None else frozenset())
        self.row = row
        self.nested: dict[str, TypeDecl] = {}
        # methods: dict[str, list[MethodDecl]], fields: dict[str, str] and gfields (the fields whose
        # declared type has type arguments) are set by Unit.add, then by the file's first use of
        # its members (_declare_members)
        # memos (graphmer_core.kg.java.types): names resolved in this type's context, its
        # supertypes, ancestors, method candidates, ...; and member types by name
        self.cache: dict[Any, Any] = {}
        self._members: dict[str, Any] = {}


class _Undeclared(dict):
    """A member dict of a type whose file has not declared its members yet: its first read declares
    the file's (Unit.methods) and answers from the type's own. (A dict in the slot rather than a
    __getattr__ on TypeDecl: CPython specializes slot reads only on classes without one, and the
    resolver reads types' attributes millions of times.)"""

    __slots__ = ("file", "index", "name")

    def __init__(self, f: Unit, index: int, name: str) -> None:
        super().__init__()
        self.file, self.index, self.name = f, index, name

    def _declared(self) -> dict:
        self.file.methods  # noqa: B018 -- declares them
        return getattr(self.file.types[self.index], self.name)

    def get(self, key: Any, default: Any = None) -> Any:
        return self._declared().get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._declared()

    def __getitem__(self, key: Any) -> Any:
        return self._declared()[key]

    def __iter__(self):
        return iter(self._declared())

    def __len__(self) -> int:
        return len(self._declared())

    def keys(self):
        return self._declared().keys()

    def values(self):
        return self._declared().values()

    def items(self):
        return self._declared().items()


def _declare_members(f: Unit) -> list[MethodDecl | None]:
    types = f.types
    for t in types:
        t.methods, t.fields, t.gfields = {}, {}, {}
    methods: list[MethodDecl | None] = []
    for row in f.pf.facts.get("methods", ()):
        owner = types[row[0]] if 0 <= row[0] < len(types) else None
        if owner is None:
            methods.append(None)
            continue
        m = MethodDecl(owner, f.corpus, row)
        owner.methods.setdefault(m.name, []).append(m)
        methods.append(m)
    for row in f.pf.facts.get("fields", ()):
        if 0 <= row[0] < len(types):
            owner = types[row[0]]
            owner.fields.setdefault(row[1], row[4] or owner.fqn)
            if len(row) > 7 and row[7]:
                owner.gfields.setdefault(row[1], row[7])
    return methods


class MethodDecl:
    __slots__ = ("id", "name", "owner", "params", "ptypes", "arity", "varargs", "ret", "static",
                 "private", "abstract", "tparams", "row", "simple", "gret", "gparams")

    def __init__(self, owner: TypeDecl, corpus: str, row: list[Any]):
        self.owner = owner
        self.name = row[1]
        self.params = row[4]
        self.ptypes = [p[0] for p in row[4]]
        self.arity = len(row[4])
        flags = row[9]
        self.varargs = "v" in flags
        self.static = "s" in flags
        self.private = "p" in flags
        self.abstract = "a" in flags
        self.ret = row[5]
        g = row[10] if len(row) > 10 else ("", [], [])
        self.gret: str = g[0] or row[5]  # the declared types with their type arguments
        self.gparams: list[str] = [gp or p for gp, p in zip(g[1], self.ptypes, strict=False)] if g[1] else self.ptypes
        self.tparams = frozenset(row[7])
        self.row = row
        self.simple = tuple(simple(p) for p in self.ptypes)
        self.id = f"java:{corpus}:{owner.fqn}.{self.name}({','.join(self.ptypes)})"
