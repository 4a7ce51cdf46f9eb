"""Types: annotations, class bases and their C3 MRO, attribute lookup on classes and instances."""

from __future__ import annotations

import builtins
import re

from graphmer_core.kg.python.bindings import _ASSIGNED_LABELS, _Class, _Module

_TRANSPARENT = frozenset({"builtins.object", "abc.ABC", "typing.Generic", "typing.Protocol"})
_ENUM_BASES = frozenset({"enum.Enum", "enum.IntEnum", "enum.Flag", "enum.IntFlag", "enum.StrEnum",
                         "enum.ReprEnum"})
_NAME = re.compile(r"[^\W\d]\w*(?:\s*\.\s*[^\W\d]\w*)*")
_LITERAL = re.compile(r"Literal\s*\[[^\]]*\]")
_OPTIONAL = re.compile(r"(?:typing\.)?Optional\[\s*([\w.]+)\s*\]|([\w.]+)\s*\|\s*None|None\s*\|\s*([\w.]+)|([\w.]+)")


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


class Types:
    """Classes, their bases and members (a mixin of Resolver)."""

    def hint_class(self, mod: _Module, scope: int, ann: str) -> str | None:
        name = receiver_annotation(ann)
        if name is None:
            return None
        v, _ = self.expr(mod, scope, name)
        return v[1] if v is not None and v[0] == "cls" else None

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
                # a base is evaluated before the class is bound: one that resolves to the class
                # itself (through an alias of it) is a misreading, not an edge
                known = v is not None and v[0] in ("cls", "ext") and v != ("cls", cls.eid)
                cls.bases.append((v, label) if known else None)
        return cls.bases

    def mro(self, cls_eid: str) -> list:
        """C3 linearisation over corpus classes; externals are leaves, unknown bases are ("?",).

        Iterative (a hierarchy may be deeper than the interpreter's recursion limit): the bases
        not yet linearised are done first, depth first. A base met again on the way up from a
        class (two classes each other's base through imports) closes a cycle, which no class can
        have at run time: the MRO takes it as unknown, while its `inherits_from` edge stays, as
        written, for the KG's gates to report."""
        cls = self.classes[cls_eid]
        if cls.mro is not None:
            return cls.mro
        path: set[str] = set()  # classes being linearised: their bases come first
        stack: list[tuple[str, bool]] = [(cls_eid, False)]
        while stack:
            eid, ready = stack.pop()
            c = self.classes[eid]
            if c.mro is not None:
                continue
            if ready:
                path.discard(eid)
                c.mro = self.linearise(c)
                continue
            path.add(eid)
            stack.append((eid, True))
            bases = self.class_bases(c)
            for base in bases:
                if base is None or base[0][0] != "cls":
                    continue
                if base[0][1] in path:
                    c.cut.add(base[0][1])  # closes a cycle
                elif self.classes[base[0][1]].mro is None:
                    stack.append((base[0][1], False))
        return cls.mro

    def linearise(self, cls: _Class) -> list:
        """C3 merge of a class whose corpus bases are linearised already."""
        seqs = []
        direct = []
        for base in self.class_bases(cls):
            if base is None or (base[0][0] == "cls" and base[0][1] in cls.cut):
                entry = ("?",)
                seqs.append([entry])
            elif base[0][0] == "cls":
                entry = base[0][1]
                seqs.append(list(self.classes[entry].mro))
            else:
                entry = ("ext", base[0][1])
                seqs.append([entry])
            direct.append(entry)
        seqs.append(direct)
        out = [cls.eid]
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
        return out

    def is_enum(self, cls: _Class) -> bool:
        """Whether an enum base is among the class's ancestors (walked without recursion: a
        hierarchy may be deeper than the recursion limit, or cycle through aliases)."""
        key = ("enum", cls.eid)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        result = False
        seen = {cls.eid}
        todo = [cls]
        while todo and not result:
            for base in self.class_bases(todo.pop()):
                if base is None:
                    continue
                v = base[0]
                if v[0] == "ext":
                    result = result or v[1] in _ENUM_BASES
                elif v[1][len(self.prefix):] in _ENUM_BASES:
                    result = True
                elif v[1] not in seen:
                    seen.add(v[1])
                    hit = self.cache.get(("enum", v[1]))
                    if hit is not None:
                        result = result or hit
                    elif v[1] in self.classes:
                        todo.append(self.classes[v[1]])
        self.cache[key] = result
        return result
