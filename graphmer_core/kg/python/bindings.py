"""Names and what they are bound to: modules, scopes and classes of a corpus, and the lookup of a
dotted name the way Python does it (locals, enclosing functions, module, builtins).

Values: ("mod", modname) | ("cls", eid) | ("fn", eid) | ("inst", class eid) | ("ext", dotted)
| ("field", eid); None = unknown. A binding is one of ("val", value, label, line) (a def),
("asg", module, scope, kind, rhs, annotation, line), ("imp", dotted, line),
("from", base, name, line) or ("param", annotation, star, index).
"""

from __future__ import annotations

import builtins

from graphmer_core.kg import ontology as O
from graphmer_core.kg.python.modules import module_name, package_roots
from graphmer_core.kg.resolution import ParsedFile

_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("__") or n == "__import__")
_IMPLICIT_CLASSMETHODS = frozenset({"__new__", "__init_subclass__", "__class_getitem__"})
_ASSIGNED_LABELS = frozenset({"assigned", "type_hint", "local"})
_MISSING = object()


class _Module:
    __slots__ = ("name", "file", "is_pkg", "eid", "ns", "stars", "all", "scopes")

    def __init__(self, name: str, file: ParsedFile, is_pkg: bool, eid: str):
        self.name, self.file, self.is_pkg, self.eid = name, file, is_pkg, eid
        self.ns: dict[str, list[tuple]] = {}
        self.stars: list[str | None] = []
        self.all: list[str] | None = None
        self.scopes: list[_Scope] = []


class _Scope:
    __slots__ = ("idx", "kind", "name", "parent", "qname", "eid", "row", "locals", "globals",
                 "self_value", "ekind")

    def __init__(self, idx: int, row: list, parent: int, qname: str, eid: str):
        self.idx, self.row, self.parent, self.qname, self.eid = idx, row, parent, qname, eid
        self.kind, self.name = row[0], row[1]
        self.locals: dict[str, list[tuple]] = {}
        self.globals: set[str] = set()
        self.self_value: tuple | None = None
        self.ekind = ""


class _Class:
    """Everything known of one class entity (a class defined twice under one name merges)."""

    __slots__ = ("eid", "scopes", "mod", "members", "attrs", "mro", "bases", "cut")

    def __init__(self, eid: str, mod: _Module):
        self.eid, self.mod = eid, mod
        self.scopes: list[_Scope] = []
        self.members: dict[str, list[tuple]] = {}   # class namespace (methods, class attributes)
        self.attrs: dict[str, list[tuple]] = {}     # instance attributes (self.x = ...)
        self.mro: list | None = None
        self.bases: list | None = None
        self.cut: set[str] = set()  # bases that close an inheritance cycle: unknown to the MRO


def is_overload(row: list) -> bool:
    """Whether a def row is a `@typing.overload` stub (`@overload`, `@t.overload`...): a signature
    only, whose implementation is the plain def of the same name after it."""
    return any(text.rpartition(".")[2] == "overload" for text in row[5])


def local_bindings(mod: _Module, scope: int, name: str) -> tuple[int, list] | None:
    """(scope index, bindings) of the innermost enclosing scope that binds `name` locally, skipping
    class bodies other than the starting one (Python's rule); None for a module-level name (also
    one declared `global`)."""
    s, first = scope, True
    while s >= 0:
        sc = mod.scopes[s]
        if sc.kind == "c" and not first:
            s = sc.parent
            continue
        first = False
        if name in sc.globals:
            return None
        bindings = sc.locals.get(name)
        if bindings:
            return s, bindings
        s = sc.parent
    return None


class Bindings:
    """Indexing of a corpus's facts into namespaces, and name lookup over them (a mixin of Resolver)."""

    def index(self) -> None:
        roots = package_roots([f.path for f in self.files], self.declared_roots)
        for f in self.files:
            name, is_pkg = module_name(f.path, roots)
            self.modules[name] = _Module(name, f, is_pkg, self.prefix + name)
        self.outside: list[tuple] = []  # `Cls.x = ...` outside Cls: (module, scope, "Cls", "x", binding)
        for mod in self.modules.values():
            try:
                self.index_module(mod)
            except Exception as e:  # the module keeps what was indexed before the fault
                self.failed(mod.file.path, None, "indexing", e)
        self.bind_outside()

    def bind_outside(self) -> None:
        """`Logger.manager = Manager(root)` at module level: a class attribute set from outside
        its class, bound once every module is indexed (the class may come from an import)."""
        for mod, scope, head, attr, binding in self.outside:
            v, _label = self.expr(mod, scope, head)
            if v is not None and v[0] == "cls":
                self.classes[v[1]].members.setdefault(attr, []).append(binding)
        self.outside.clear()
        self.cache.clear()  # lookups made above saw the classes without those attributes

    def index_module(self, mod: _Module) -> None:
        facts = mod.file.facts
        scopes = mod.scopes
        for idx, row in enumerate(facts.get("defs", ())):
            parent = row[2]
            base = scopes[parent].qname if 0 <= parent < idx else mod.name
            if not 0 <= parent < idx:
                parent = -1
            qname = f"{base}.{row[1]}"
            sc = _Scope(idx, row, parent, qname, self.prefix + qname)
            scopes.append(sc)
            if sc.kind == "f":
                self.fn_module.setdefault(sc.eid, mod.name)
            if sc.kind == "c":
                cls = self.classes.get(sc.eid)
                if cls is None:
                    cls = self.classes[sc.eid] = _Class(sc.eid, mod)
                cls.scopes.append(sc)
                value = ("cls", sc.eid)
            else:
                first = self.fns.get(sc.eid)
                if first is None or (is_overload(first.row) and not is_overload(row)):
                    self.fns[sc.eid] = sc  # the implementation, not the `@overload` stubs before it
                value = ("fn", sc.eid)
            self.bind(mod, parent, row[1], ("val", value, "exact", row[3]))
            if sc.kind == "f":
                in_class = parent >= 0 and scopes[parent].kind == "c"
                sc.ekind = O.METHOD if in_class else O.FUNCTION
                params = row[6]
                for i, (pname, ann, star) in enumerate(params):
                    sc.locals.setdefault(pname, []).append(("param", ann, star, i))
                if in_class and params and not params[0][2] and "staticmethod" not in row[5]:
                    cls_eid = scopes[parent].eid
                    is_cls = "classmethod" in row[5] or row[1] in _IMPLICIT_CLASSMETHODS
                    sc.self_value = ("cls" if is_cls else "inst", cls_eid)
            else:
                sc.ekind = O.CLASS
        for scope, name in facts.get("globals", ()):
            if 0 <= scope < len(scopes):
                scopes[scope].globals.add(name)
        for row in facts.get("asg", ()):
            scope, line, target, kind, rhs, ann = row
            if not 0 <= scope < len(scopes):
                scope = -1
            if "." not in target:
                if kind == "l" and target == "__all__" and scope == -1:
                    mod.all = list(rhs)
                binding = ("asg", mod, scope, kind, rhs, ann, line)
                # `global x` in a function: the assignment binds the module's x
                owner = -1 if scope >= 0 and target in scopes[scope].globals else scope
                self.bind(mod, owner, target, binding)
                continue
            found = self.self_attribute(scopes, scope, target)
            if found is None:
                head, _, attr = target.rpartition(".")
                if scope == -1 and head:  # `Cls.x = ...` at module level
                    self.outside.append((mod, scope, head, attr, ("asg", mod, scope, kind, rhs, ann, line)))
                continue
            cls, attr, sc = found
            table = cls.attrs if sc.self_value[0] == "inst" else cls.members
            table.setdefault(attr, []).append(("asg", mod, scope, kind, rhs, ann, line))
        for row in facts.get("imports", ()):
            scope, line, module, level, names = row
            if not 0 <= scope < len(scopes):
                scope = -1
            if level < 0:
                for dotted, alias in names:
                    if alias:
                        self.bind(mod, scope, alias, ("imp", dotted, line))
                    else:
                        top = dotted.split(".", 1)[0]
                        self.bind(mod, scope, top, ("imp", top, line))
                continue
            base = self.absolute(mod, module, level)
            for name, alias in names:
                if name == "*":
                    if scope == -1:
                        mod.stars.append(base)
                    continue
                self.bind(mod, scope, alias or name, ("from", base, name, line))

    def bind(self, mod: _Module, scope: int, name: str, binding: tuple) -> None:
        if scope < 0:
            mod.ns.setdefault(name, []).append(binding)
            return
        sc = mod.scopes[scope]
        sc.locals.setdefault(name, []).append(binding)
        if sc.kind == "c":
            self.classes[sc.eid].members.setdefault(name, []).append(binding)

    def absolute(self, mod: _Module, module: str, level: int) -> str | None:
        if level == 0:
            return module
        parts = mod.name.split(".")
        if not mod.is_pkg:
            parts = parts[:-1]
        if level - 1 >= len(parts) and level > 1:
            return None
        parts = parts[:len(parts) - (level - 1)]
        if module:
            parts.append(module)
        return ".".join(parts) or None

    def self_attribute(self, scopes, scope: int, target: str):
        """`self.x` (or `cls.x`) assigned in a method: (its class, "x", the method's scope), else None."""
        head, _, attr = target.partition(".")
        if scope < 0 or "." in attr:
            return None
        sc = scopes[scope]
        if sc.self_value is None or sc.row[6][0][0] != head:
            return None
        return self.classes[sc.self_value[1]], attr, sc

    def evaluate(self, bindings: list[tuple], key: tuple) -> tuple[tuple | None, str]:
        """The one value all bindings agree on (None-assignments ignored), else (None, "")."""
        hit = self.cache.get(key, _MISSING)
        if hit is not _MISSING:
            return hit
        if key in self.active:
            return None, ""
        self.active.add(key)
        result: tuple[tuple | None, str] = (None, "")
        try:
            values = []
            for b in bindings:
                v = self.binding_value(b)
                if v is _MISSING:
                    continue
                if v[0] is None:
                    values = []
                    break
                values.append(v)
            if values and all(v[0] == values[0][0] for v in values):
                result = values[0]
        finally:
            self.active.discard(key)
        self.cache[key] = result
        return result

    def binding_value(self, b: tuple):
        tag = b[0]
        if tag == "val":
            return b[1], b[2]
        if tag == "asg":
            _, mod, scope, kind, rhs, ann, _line = b
            if ann:
                cls = self.hint_class(mod, scope, ann)
                if cls is not None:
                    return ("inst", cls), "type_hint"
            if kind == "N":
                return _MISSING
            if kind == "c":
                return self.call_result(mod, scope, rhs)
            if kind == "n":
                v, label = self.expr(mod, scope, rhs)
                return v, ("local" if label in ("exact", "import", "external") else label)
            return None, ""
        if tag == "imp":
            if b[1] in self.modules:
                return ("mod", b[1]), "import"
            return ("ext", b[1]), "import"
        if tag == "from":
            _, base, name, _line = b
            return self.from_value(base, name)
        return None, ""  # parameters (typed in `_lookup`, which knows the scope) and the rest

    def from_value(self, base: str | None, name: str) -> tuple[tuple | None, str]:
        if base is None:
            return None, ""
        mod = self.modules.get(base)
        if mod is None:
            if base + "." + name in self.modules:
                return ("mod", base + "." + name), "import"
            return ("ext", f"{base}.{name}"), "import"
        v, label = self.member(mod, name)
        if v is None and base + "." + name in self.modules:  # `from . import sub` in pkg/__init__.py
            return ("mod", base + "." + name), "import"
        return v, (label if label in _ASSIGNED_LABELS else "import")

    def lookup(self, mod: _Module, scope: int, name: str) -> tuple[tuple | None, str]:
        key = ("L", mod.name, scope, name)
        hit = self.cache.get(key, _MISSING)
        if hit is not _MISSING:
            return hit
        result = self._lookup(mod, scope, name)
        self.cache[key] = result
        return result

    def _lookup(self, mod: _Module, scope: int, name: str) -> tuple[tuple | None, str]:
        found = local_bindings(mod, scope, name)
        if found is not None:
            s, bindings = found
            sc = mod.scopes[s]
            if sc.kind == "f" and len(bindings) == 1 and bindings[0][0] == "param":
                _, ann, star, i = bindings[0]
                if i == 0 and sc.self_value is not None:
                    return sc.self_value, "self"
                if ann and not star:
                    cls = self.hint_class(mod, sc.parent, ann)
                    if cls is not None:
                        return ("inst", cls), "type_hint"
                return None, ""
            if any(b[0] == "param" for b in bindings):
                return None, ""
            return self.evaluate(bindings, ("S", mod.name, s, name))
        v, label = self.member(mod, name)
        if v is None and not label and name in _BUILTINS and name not in mod.ns:
            return ("ext", "builtins." + name), "external"
        return v, label

    def member(self, mod: _Module, name: str) -> tuple[tuple | None, str]:
        """A module attribute: its namespace, a submodule, or a star import. ("", label) = absent."""
        bindings = mod.ns.get(name)
        if bindings:
            if self.external_star(mod) and all(b[0] == "asg" for b in bindings):
                # `from posix import *` then `if ...: fspath = _fspath`: either may win
                return None, "unknown"
            v, label = self.evaluate(bindings, ("M", mod.name, name))
            return v, (label or "unknown")
        sub = mod.name + "." + name
        if sub in self.modules:
            return ("mod", sub), "import"
        for base in mod.stars:
            key = ("*", mod.name, base, name)
            if key in self.active:
                continue
            target = self.modules.get(base) if base else None
            if target is None:
                return None, "unknown"  # an external star import may define anything
            public = self.public_names(target)
            if name in public:
                self.active.add(key)
                try:
                    v, label = self.member(target, name)
                finally:
                    self.active.discard(key)
                return v, ("import" if label not in _ASSIGNED_LABELS else label)
        return None, ""

    def external_star(self, mod: _Module) -> bool:
        key = ("xstar", mod.name)
        hit = self.cache.get(key)
        if hit is None:
            hit = self.cache[key] = any(base is None or base not in self.modules for base in mod.stars)
        return hit

    def public_names(self, mod: _Module) -> list[str] | frozenset[str]:
        """What `from mod import *` binds: `__all__`, else the names without a leading underscore."""
        if mod.all is not None:
            return mod.all
        key = ("public", mod.name)
        hit = self.cache.get(key)
        if hit is None:
            hit = self.cache[key] = frozenset(n for n in mod.ns if not n.startswith("_"))
        return hit

    def expr(self, mod: _Module, scope: int, dotted: str) -> tuple[tuple | None, str]:
        if "." not in dotted:
            return self.lookup(mod, scope, dotted)
        key = ("E", mod.name, scope, dotted)
        hit = self.cache.get(key)
        if hit is None:
            hit = self.cache[key] = self._expr(mod, scope, dotted)
        return hit

    def _expr(self, mod: _Module, scope: int, dotted: str) -> tuple[tuple | None, str]:
        parts = dotted.split(".")
        v, label = self.lookup(mod, scope, parts[0])
        for p in parts[1:]:
            if v is None:
                return None, ""
            v, label = self.attribute(v, p, label)
        return v, label

    def symbol(self, base: str, name: str, depth: int = 0) -> str | None:
        """The entity an import `from base import name` names (following re-exports)."""
        mod = self.modules.get(base)
        if mod is None:
            return self.ext_ref(f"{base}.{name}") if depth else None
        if depth > 20:
            return None
        bindings = mod.ns.get(name)
        if bindings:
            for b in bindings:
                if b[0] == "val":
                    return b[1][1]
            for b in bindings:
                if b[0] == "asg" and b[3] != "b":
                    return self.prefix + f"{base}.{name}"
            for b in bindings:
                if b[0] == "from" and b[1] is not None:
                    if (b[1], b[2]) == (base, name):  # `from . import sub` in the package itself
                        sub = f"{base}.{name}"
                        return self.prefix + sub if sub in self.modules else None
                    return self.symbol(b[1], b[2], depth + 1)
                if b[0] == "imp":
                    return self.prefix + b[1] if b[1] in self.modules else self.ext_ref(b[1])
            return None
        if f"{base}.{name}" in self.modules:
            return self.prefix + f"{base}.{name}"
        for star in mod.stars:
            target = self.modules.get(star) if star else None
            if target is None:
                return None
            public = self.public_names(target)
            if name in public:
                return self.symbol(star, name, depth + 1)
        return None
