"""Python syntax facts (graphmer_core.parsing.python) -> entities and triples, across files.

Naming: a module is its dotted path under the corpus root (`pkg/mod.py` -> `pkg.mod`,
`pkg/__init__.py` -> Package `pkg`, a folder of modules without `__init__.py` -> namespace Package
with the folder as path). Definitions follow `__qualname__` without `<locals>`, prefixed by the
module: `pkg.mod.Class.method`, `pkg.mod.func.inner`. entity_id = `py:<corpus>:<qualified_name>`;
names outside the corpus are `py:ext:<dotted name>` (builtins as `py:ext:builtins.<name>`).

Resolution is static and flow-insensitive, precision first:

- A name is looked up like Python does: the function's locals (parameters, assignments, imports,
  nested defs, loop/with/except targets), enclosing functions (class bodies are skipped), the
  module namespace (defs, assignments, imports, `from x import *` of corpus modules honouring a
  literal `__all__`), then builtins. Every binding of the name in that scope must agree on one
  value (a `None` assignment is ignored), otherwise the name is unknown.
- Values are tracked for modules, classes, functions, instances of corpus classes (constructor
  calls, parameter/return/variable annotations, `Optional[X]`, `X | None`) and externals.
  Attribute access follows modules (re-exports and submodules), classes and instances through the
  C3 MRO of corpus classes, stopping at the first external or unknown base (except `object`,
  `abc.ABC`, `typing.Generic`, `typing.Protocol`, which add nothing), and instance attributes
  assigned through `self.x = ...` in any method.
- `super().m()` looks up `m` after the enclosing class in its MRO; `self`/`cls` are the first
  parameter of a method (none for `@staticmethod`; the class for `@classmethod` and `__new__`).
- Unresolvable references are dropped: no `py:ext:?` entities, no name-similarity guesses.
  Attribute calls on unknown receivers (`obj.run()` with `obj` untyped) are dropped; dotted names
  through an external (imported module or builtin) become externals (`os.path.join` ->
  `py:ext:os.path.join`). External kinds: builtins by introspection; `import x` -> ExternalModule;
  bases, raised and caught names -> ExternalClass; builtin methods a corpus method overrides
  (`py:ext:builtins.BaseException.__str__`) -> ExternalFunction; the rest ExternalSymbol. A call of an
  ExternalClass is `instantiates`, of any other external `calls`.
- Module-level code of a package `__init__.py` has the Package as head, which the ontology does
  not allow for calls/instantiates/raises/catches: those triples are dropped (as is any triple whose
  head and tail kinds break `ontology.allowed`).

Resolution labels: syntax (contains), exact (same module), import (reached through an import),
external (builtins and external imports), local (`x = helper; x()`), self (`self.m()`,
`cls.m()`), inherited (found up the MRO; overrides), super, assigned (receiver typed by a
constructor assignment), type_hint (receiver typed by an annotation or a return type).
"""

from __future__ import annotations

import builtins
import re
from typing import Any

from graphmer_core.kg import ontology as O
from graphmer_core.kg.resolution import ParsedFile, Resolved
from graphmer_core.parsing.batch import paused_gc

LANG = "python"
_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("__") or n == "__import__")
_TRANSPARENT = frozenset({"builtins.object", "abc.ABC", "typing.Generic", "typing.Protocol"})
_ENUM_BASES = frozenset({"enum.Enum", "enum.IntEnum", "enum.Flag", "enum.IntFlag", "enum.StrEnum",
                         "enum.ReprEnum"})
_IMPLICIT_CLASSMETHODS = frozenset({"__new__", "__init_subclass__", "__class_getitem__"})
_NAME = re.compile(r"[^\W\d]\w*(?:\s*\.\s*[^\W\d]\w*)*")
_LITERAL = re.compile(r"Literal\s*\[[^\]]*\]")
_OPTIONAL = re.compile(r"(?:typing\.)?Optional\[\s*([\w.]+)\s*\]|([\w.]+)\s*\|\s*None|None\s*\|\s*([\w.]+)|([\w.]+)")
_ASSIGNED_LABELS = frozenset({"assigned", "type_hint", "local"})

# values: ("mod", modname) | ("cls", eid) | ("fn", eid) | ("inst", class eid) | ("ext", dotted)
#         | ("field", eid) ; None = unknown
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

    __slots__ = ("eid", "scopes", "mod", "members", "attrs", "mro", "bases")

    def __init__(self, eid: str, mod: _Module):
        self.eid, self.mod = eid, mod
        self.scopes: list[_Scope] = []
        self.members: dict[str, list[tuple]] = {}   # class namespace (methods, class attributes)
        self.attrs: dict[str, list[tuple]] = {}     # instance attributes (self.x = ...)
        self.mro: list | None = None
        self.bases: list | None = None


def module_name(path: str) -> tuple[str, bool]:
    """(`pkg.mod`, is_package) of a corpus-relative posix path."""
    parts = path[:-3].split("/") if path.endswith(".py") else path.split("/")
    if parts[-1] == "__init__" and len(parts) > 1:
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def annotation_names(text: str) -> list[str]:
    """Named types in an annotation, leaving out subscripted containers (`Optional`, `list`...)."""
    t = text.strip()
    if t[:1] in "\"'":
        t = t.strip("\"'")
    if "Literal" in t:
        t = _LITERAL.sub(" ", t)
    t = t.replace('"', " ").replace("'", " ")
    out = []
    n = len(t)
    for m in _NAME.finditer(t):
        name = m.group().replace(" ", "")
        j = m.end()
        while j < n and t[j] == " ":
            j += 1
        if (j < n and t[j] == "[") or name in ("None", "typing.Any", "Any"):
            continue
        out.append(name)
    return out


def receiver_annotation(text: str) -> str | None:
    """The class name of an annotation that types a receiver: `X`, `"X"`, `Optional[X]`, `X | None`."""
    t = text.strip().strip("\"'").strip()
    m = _OPTIONAL.fullmatch(t)
    if not m:
        return None
    return next(g for g in m.groups() if g)


class _Resolver:
    def __init__(self, corpus: str, files: list[ParsedFile]):
        self.corpus = corpus
        self.prefix = f"py:{corpus}:"
        self.modules: dict[str, _Module] = {}
        self.classes: dict[str, _Class] = {}
        self.fns: dict[str, _Scope] = {}
        self.entities: list[tuple] = []
        self.triples: list[tuple] = []       # (head, relation, tail, path, line, resolution)
        self.kinds: dict[str, str] = {}      # internal entity kinds
        self.ext: dict[str, int] = {}  # external name -> evidence rank (3 module, 2 class, 1 function, 0 symbol)
        self.fn_module: dict[str, str] = {}    # function eid -> module name
        self.cache: dict[tuple, Any] = {}
        self.active: set[tuple] = set()
        self.files = files

    # --- entities -----------------------------------------------------------------------------
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

    # --- indexing -----------------------------------------------------------------------------
    def index(self) -> None:
        for f in self.files:
            name, is_pkg = module_name(f.path)
            self.modules[name] = _Module(name, f, is_pkg, self.prefix + name)
        for mod in self.modules.values():
            self.index_module(mod)

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
                self.fns.setdefault(sc.eid, sc)
                value = ("fn", sc.eid)
            self.bind(mod, parent, row[1], ("val", value, "exact"))
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

    # --- values -------------------------------------------------------------------------------
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

    def call_result(self, mod: _Module, scope: int, callee: str) -> tuple[tuple | None, str]:
        v, _label = self.callee(mod, scope, callee)
        if v is None:
            return None, ""
        if v[0] == "cls":
            return ("inst", v[1]), "assigned"
        if v[0] == "fn":
            sc = self.fns.get(v[1])
            if sc is not None and sc.row[7]:
                owner = self.modules[self.fn_module[sc.eid]]
                cls = self.hint_class(owner, sc.parent, sc.row[7])
                if cls is not None:
                    return ("inst", cls), "type_hint"
        return None, ""

    def hint_class(self, mod: _Module, scope: int, ann: str) -> str | None:
        name = receiver_annotation(ann)
        if name is None:
            return None
        v, _ = self.expr(mod, scope, name)
        return v[1] if v is not None and v[0] == "cls" else None

    def lookup(self, mod: _Module, scope: int, name: str) -> tuple[tuple | None, str]:
        key = ("L", mod.name, scope, name)
        hit = self.cache.get(key, _MISSING)
        if hit is not _MISSING:
            return hit
        result = self._lookup(mod, scope, name)
        self.cache[key] = result
        return result

    def _lookup(self, mod: _Module, scope: int, name: str) -> tuple[tuple | None, str]:
        s = scope
        first = True
        while s >= 0:
            sc = mod.scopes[s]
            if sc.kind == "c" and not first:
                s = sc.parent
                continue
            first = False
            if name in sc.globals:
                break
            bindings = sc.locals.get(name)
            if bindings:
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
            s = sc.parent
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

    def attribute(self, v: tuple, name: str, label: str) -> tuple[tuple | None, str]:
        tag = v[0]
        if tag == "mod":
            target, mlabel = self.member(self.modules[v[1]], name)
            if target is None:
                return None, ""
            return target, (mlabel if mlabel in _ASSIGNED_LABELS else label)
        if tag == "ext":
            return ("ext", f"{v[1]}.{name}"), label
        if tag in ("cls", "inst"):
            return self.class_attr(v[1], name, instance=tag == "inst", skip_first=False, label=label)
        return None, ""

    def class_attr(self, cls_eid: str, name: str, instance: bool, skip_first: bool,
                   label: str) -> tuple[tuple | None, str]:
        mro = self.mro(cls_eid)
        for i, entry in enumerate(mro):
            if i == 0 and skip_first:
                continue
            if not isinstance(entry, str):  # external or unknown base: its members are unknown
                if entry[0] == "ext" and entry[1] in _TRANSPARENT:
                    continue
                return None, ""
            cls = self.classes[entry]
            found = None
            if instance and name in cls.attrs:
                found = self.evaluate(cls.attrs[name], ("A", entry, name))
            elif name in cls.members:
                found = self.evaluate(cls.members[name], ("C", entry, name))
            if found is not None:
                v, flabel = found
                if v is None:
                    return None, ""
                if flabel in ("assigned", "type_hint"):
                    return v, flabel
                if label == "super":
                    return v, "super"
                return v, ("inherited" if i > 0 else label)
        return None, ""

    def overridden(self, cls_eid: str, name: str) -> str | None:
        """The method `name` of the first class after `cls_eid` in its MRO that defines it.

        A builtin base (other than object) is looked up by introspection: `__str__` of a
        ValueError subclass overrides `py:ext:builtins.BaseException.__str__`.
        """
        for entry in self.mro(cls_eid)[1:]:
            if isinstance(entry, str):
                cls = self.classes[entry]
                if name in cls.members:
                    v, _ = self.evaluate(cls.members[name], ("C", entry, name))
                    return v[1] if v is not None and v[0] == "fn" else None
                continue
            if entry[0] != "ext" or entry[1] in _TRANSPARENT:
                if entry[0] == "ext":
                    continue
                return None
            if not entry[1].startswith("builtins.") or entry[1].count(".") != 1:
                return None
            base = getattr(builtins, entry[1][9:], None)
            if not isinstance(base, type):
                return None
            for klass in base.__mro__:
                if klass is object:
                    return None
                if name in vars(klass) and callable(vars(klass)[name]):
                    return self.ext_ref(f"builtins.{klass.__name__}.{name}", 1)
            return None
        return None

    def class_bases(self, cls: _Class) -> list:
        if cls.bases is None:
            cls.bases = []
            sc = cls.scopes[0]
            mod = cls.mod
            for text in sc.row[6]:
                name = text.split("[", 1)[0].strip()
                if not _NAME.fullmatch(name):
                    cls.bases.append(None)
                    continue
                v, label = self.expr(mod, sc.parent, name.replace(" ", ""))
                cls.bases.append((v, label) if v is not None and v[0] in ("cls", "ext") else None)
        return cls.bases

    def mro(self, cls_eid: str) -> list:
        """C3 linearisation over corpus classes; externals are leaves, unknown bases are ("?",)."""
        cls = self.classes[cls_eid]
        if cls.mro is not None:
            return cls.mro
        key = ("mro", cls_eid)
        if key in self.active:
            return [cls_eid, ("?",)]
        self.active.add(key)
        try:
            seqs = []
            direct = []
            for base in self.class_bases(cls):
                if base is None:
                    entry = ("?",)
                    seqs.append([entry])
                elif base[0][0] == "cls":
                    entry = base[0][1]
                    seqs.append(list(self.mro(entry)))
                else:
                    entry = ("ext", base[0][1])
                    seqs.append([entry])
                direct.append(entry)
            seqs.append(direct)
            out = [cls_eid]
            seqs = [s for s in seqs if s]
            while seqs:
                for s in seqs:
                    head = s[0]
                    if not any(head in t[1:] for t in seqs):
                        break
                else:  # inconsistent hierarchy: keep the known prefix, then unknown
                    out.append(("?",))
                    break
                out.append(head)
                seqs = [t[1:] if t[0] == head else t for t in seqs]
                seqs = [t for t in seqs if t]
        finally:
            self.active.discard(key)
        cls.mro = out
        return out

    # --- emission -----------------------------------------------------------------------------
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
        for mod in self.modules.values():
            self.emit_defs(mod)
        for mod in self.modules.values():
            self.emit_fields(mod)
        for mod in self.modules.values():
            self.emit_refs(mod)

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
            # ancestors without an __init__.py are namespace packages
            for depth in range(1, len(parts)):
                name = ".".join(parts[:depth])
                if name not in self.modules:
                    namespace.setdefault(name, "/".join(folders[:depth]))
        for name, folder in sorted(namespace.items()):
            self.entity(self.prefix + name, O.PACKAGE, name, folder, None, None, None)
            if "." in name:
                self.triples.append((self.prefix + name.rsplit(".", 1)[0], "contains", self.prefix + name,
                                     folder, None, "syntax"))

    def is_enum(self, cls: _Class) -> bool:
        key = ("enum", cls.eid)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        self.cache[key] = False  # cycle guard
        result = False
        for base in self.class_bases(cls):
            if base is None:
                continue
            v = base[0]
            if v[0] == "ext" and v[1] in _ENUM_BASES:
                result = True
            elif v[0] == "cls":
                other = self.classes.get(v[1])
                if v[1][len(self.prefix):] in _ENUM_BASES or (other is not None and self.is_enum(other)):
                    result = True
        self.cache[key] = result
        return result

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

    def self_attribute(self, scopes, scope: int, target: str):
        """`self.x` (or `cls.x`) assigned in a method: (its class, "x", the method's scope), else None."""
        head, _, attr = target.partition(".")
        if scope < 0 or "." in attr:
            return None
        sc = scopes[scope]
        if sc.self_value is None or sc.row[6][0][0] != head:
            return None
        return self.classes[sc.self_value[1]], attr, sc

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
        for scope, line, text in facts.get("calls", ()):
            if not -1 <= scope < n or text == "super":
                continue
            v, label = callee(mod, scope, text)
            if v is None:
                continue
            head = mod.eid if scope < 0 else scopes[scope].eid
            tag = v[0]
            if tag == "cls":
                append((head, "instantiates", v[1], path, line, label))
            elif tag == "fn":
                append((head, "calls", v[1], path, line, label))
            elif tag == "ext":
                append((head, "calls?", self.ext_ref(v[1]), path, line, label))
        for rel, rows in (("raises", facts.get("raises", ())), ("catches", facts.get("catches", ()))):
            for scope, line, text in rows:
                if not -1 <= scope < n:
                    continue
                v, label = self.expr(mod, scope, text)
                if v is not None and v[0] in ("cls", "ext"):
                    self.triple(self.head_of(mod, scope), rel, self.value_tail(v, 2), f, line, label)

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
                rel = "instantiates" if kinds.get(tail) == O.EXTERNAL_CLASS else "calls"
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


def resolve(corpus: str, files: list[ParsedFile]) -> Resolved:
    # The facts of a large corpus are millions of small lists: with the cyclic GC on, its full
    # collections (triggered by our allocations, finding nothing) cost more than resolving itself.
    r = _Resolver(corpus, [f for f in files if f.language == LANG])
    try:
        with paused_gc():
            r.index()
            r.emit()
            r.externals()
            return Resolved(entities=r.entities, triples=r.rows())
    finally:
        r.release()
