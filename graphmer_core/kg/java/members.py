"""Methods of Java types: which declaration a call of a name with its arguments reaches.

Overloads are chosen by arity (exact arity before varargs), then by the kinds of literal arguments;
when that still leaves several candidates there is no edge. Methods not found in an internal
hierarchy are reported as the single explicit external ancestor that may declare them.
"""

from __future__ import annotations

from typing import Any

from graphmer_core.kg.java.model import OBJECT_METHODS, PRIMITIVES, MethodDecl, TypeDecl, base
from graphmer_core.kg.java.types import TypeIndex

# primitive widening (JLS 5.1.2) and boxing (5.1.7)
WIDENS = {
    "byte": {"byte", "short", "int", "long", "float", "double"},
    "short": {"short", "int", "long", "float", "double"},
    "char": {"char", "int", "long", "float", "double"},
    "int": {"int", "long", "float", "double"}, "long": {"long", "float", "double"},
    "float": {"float", "double"}, "double": {"double"}, "boolean": {"boolean"},
}
BOXES = {"int": "Integer", "long": "Long", "double": "Double", "float": "Float", "char": "Character",
         "boolean": "Boolean", "byte": "Byte", "short": "Short"}
UNBOXES = {f"java.lang.{w}": p for p, w in BOXES.items()}
_BOX_SUPERS = {"java.lang.Object", "java.lang.Number", "java.lang.Comparable", "java.io.Serializable",
               "java.lang.constant.Constable", "java.lang.constant.ConstantDesc"}
_NUMBER = {"java.lang.Number", "java.io.Serializable", "java.lang.Comparable", "java.lang.constant.Constable",
           "java.lang.constant.ConstantDesc"}
# supertypes of final java.lang types, for corpora that do not hold java.lang
KNOWN_SUPERS = {
    "java.lang.Object": set(),
    "java.lang.String": {"java.io.Serializable", "java.lang.Comparable", "java.lang.CharSequence",
                         "java.lang.constant.Constable", "java.lang.constant.ConstantDesc"},
    "java.lang.Boolean": {"java.io.Serializable", "java.lang.Comparable", "java.lang.constant.Constable"},
    "java.lang.Character": {"java.io.Serializable", "java.lang.Comparable", "java.lang.constant.Constable"},
    **{f"java.lang.{w}": _NUMBER for w in ("Integer", "Long", "Short", "Byte", "Float", "Double")},
}
_ARRAY_SUPERS = {"java.lang.Object", "java.lang.Cloneable", "java.io.Serializable"}
# An argument or parameter type: ("p", primitive, dims) | ("i", TypeDecl, dims) | ("e", fqn, dims)
# | ("v", name, dims) a type variable | ("null",) | ("fn",) a lambda or method reference | None.


class MemberIndex(TypeIndex):
    """A TypeIndex that also finds the method a call reaches."""

    def find_method(self, t: TypeDecl, name: str, argc: int, args: Any = None, inherit: bool = True
                    ) -> tuple[Any, str]:
        """(method, exact|inherited|overload) or (None, none|nofit|ambiguous|external:<fqn>).
        ``args()`` gives the argument types (a list, None for each unknown one), asked for only
        when the arity leaves several overloads."""
        key = (name, inherit)  # the candidates of a type and name, gathered once
        hit = t.cache.get(key)
        if hit is None:
            cands = self._compute(t.cache, key, self._candidates, (t, name, inherit))
        else:  # `memo`'s hit, inline: a hot path
            if hit[1]:
                self.deps.add(hit[1])
            cands = hit[0]
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
        if len(fit) > 1 and args is not None:
            fit = self.by_arguments(fit, args(), argc)
        if len(fit) != 1:
            return None, "ambiguous" if fit else "nofit"
        m, own = fit[0]
        if len(cands) > 1:
            return m, "overload"
        return m, "exact" if own else "inherited"

    def _candidates(self, t: TypeDecl, name: str, inherit: bool) -> list[tuple[MethodDecl, bool]]:
        """Methods named `name` that t declares (True) or inherits (False), an override once."""
        cands: list[tuple[MethodDecl, bool]] = []
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
        return cands

    def only_method(self, t: TypeDecl, name: str, inherit: bool = True) -> MethodDecl | None:
        """The one method named `name` that t declares or inherits (an override counts once);
        None when there are overloads or an ancestor is unknown."""
        found: dict[tuple[str, ...], MethodDecl] = {}
        for m in t.methods.get(name, ()):
            found.setdefault(m.simple, m)
        if inherit:
            chain, _ext, unknown = self.ancestors(t)
            if unknown:
                return None
            for a in chain:
                for m in a.methods.get(name, ()):
                    if not m.private:
                        found.setdefault(m.simple, m)
        return next(iter(found.values())) if len(found) == 1 else None

    def by_arguments(self, fit: list[tuple[MethodDecl, bool]], args: list[Any] | None, argc: int
                     ) -> list[tuple[MethodDecl, bool]]:
        """The overloads a call with these argument types reaches: JLS 15.12.2's phases (subtyping,
        then boxing, then variable arity), then the most specific. An unknown argument fits any
        parameter; when that leaves more than one candidate, all are returned (no edge)."""
        if not args or all(a is None for a in args):
            return fit
        for phase in (1, 2, 3):
            if phase < 3:
                ptypes = [(c, self.param_types(c[0], argc, False)) for c in fit
                          if c[0].arity == argc]
            else:
                ptypes = [(c, self.param_types(c[0], argc, True)) for c in fit if c[0].varargs]
            verdicts = [(c, ps, [self.assignable(a, p, min(phase, 2)) for a, p in zip(args, ps, strict=True)])
                        for c, ps in ptypes]
            maybe = [(c, ps) for c, ps, v in verdicts if False not in v]
            sure = [(c, ps) for c, ps, v in verdicts if all(x is True for x in v)]
            if not maybe:
                continue
            if len(maybe) == 1:
                if sure or phase > 1:
                    return [maybe[0][0]]
                continue  # the one candidate may only fit with boxing: let phase 2 confirm it
            if len(sure) == len(maybe):
                best = self.most_specific(sure)
                return [best] if best is not None else [c for c, _ps in sure]
            return [c for c, _ps in maybe]
        return []

    def param_types(self, m: MethodDecl, argc: int, spread: bool) -> list[Any]:
        """Parameter types of m; with ``spread`` a varargs array is spread over the arguments."""
        got = self.memo(self._ptypes, m, self._param_types, m)
        if spread:
            last = got[-1]
            elem = None if last is None else (last[0], last[1], max(0, last[2] - 1))
            return got[:-1] + [elem] * (argc - m.arity + 1)
        return got

    def _param_types(self, m: MethodDecl) -> list[Any]:
        tv = m.tparams | m.owner.tparams
        return [self.type_of(p, m.owner, tv) for p in m.ptypes]

    def type_of(self, text: str, ctx: TypeDecl, tvars: frozenset[str]) -> Any:
        """A type as written, in the context of a type, as an argument/parameter type tuple."""
        dims = text.count("[]")
        b = base(text)
        if b in PRIMITIVES:
            return ("p", b, dims) if b not in ("void", "var") else None
        if b.partition(".")[0] in tvars:
            return ("v", b, dims)
        ref = self.type_ref(b, ctx.file, ctx, tvars)
        if ref is None:
            return ("v", b, dims)  # a type variable of an enclosing scope
        if ref[0] == "i":
            return ("i", ref[1], dims)
        if ref[0] == "e":
            return ("e", ref[1], dims)
        return None

    def assignable(self, a: Any, p: Any, phase: int) -> bool | None:
        """Whether an argument of type a may be passed to a parameter of type p (phase 1: without
        boxing, 2: with it): True, False, or None when it cannot be told."""
        if a is None or p is None:
            return None
        ak = a[0]
        pk, pb, pd = p
        if ak == "null":
            return not (pk == "p" and pd == 0)
        if ak == "fn":  # a lambda or method reference needs a functional interface
            if pd or pk == "p" or (pk == "i" and pb.kind != "Interface"):
                return False
            return None
        ab, ad = a[1], a[2]
        if pk == "v":  # a type variable (its bound is not known): any reference type
            if ad < pd:
                return False
            if ak == "p" and ad == pd:
                return phase == 2 if ad == 0 else False
            return True
        if ak == "p":
            if ad:  # an array of primitives
                if pk == "p":
                    return pb == ab and pd == ad
                return pd < ad and self.fqn(p) in _ARRAY_SUPERS
            if pk == "p":
                return pd == 0 and pb in WIDENS[ab]
            if pd or phase == 1:
                return False
            fq = self.fqn(p)
            return fq == f"java.lang.{BOXES[ab]}" or fq in _BOX_SUPERS
        if pk == "p":  # a reference to a primitive: unboxing, then widening
            if pd or ad or phase == 1:
                return False
            unboxed = UNBOXES.get(self.fqn(a))
            return unboxed is not None and pb in WIDENS[unboxed]
        if ad != pd:
            return ad > pd and self.fqn(p) in _ARRAY_SUPERS
        return self.subtype(a, p)

    def fqn(self, t: Any) -> str:
        return t[1].fqn if t[0] == "i" else t[1] if t[0] == "e" else ""

    def subtype(self, a: Any, p: Any) -> bool | None:
        """Whether reference type a is p or below it; None when an unknown supertype may be."""
        pf = self.fqn(p)
        if pf == "java.lang.Object":
            return True
        af = self.fqn(a)
        if af == pf:
            return True
        if a[0] != "i":
            if af in KNOWN_SUPERS:
                return pf in KNOWN_SUPERS[af]
            # an external type does not extend the corpus's own types; others are not known
            return False if p[0] == "i" else None
        chain, ext, unknown = self.ancestors(a[1])
        if p[0] == "i":
            if any(x is p[1] for x in chain):
                return True
            return None if unknown else False
        if pf in ext:
            return True
        return None if unknown or ext else False  # an external ancestor may extend p

    def most_specific(self, cands: list[tuple[tuple[MethodDecl, bool], list[Any]]]
                      ) -> tuple[MethodDecl, bool] | None:
        best = None
        for c, ps in cands:
            if all(o is c or all(self.assignable(x, y, 1) is True for x, y in zip(ps, ops, strict=True))
                   for o, ops in cands):
                if best is not None:
                    return None
                best = c
        return best

    # --- emission ---------------------------------------------------------------------------
