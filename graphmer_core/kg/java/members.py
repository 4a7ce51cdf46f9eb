"""Methods of Java types: which declaration a call of a name with its arguments reaches.

Overloads are chosen by arity (exact arity before varargs), then by the kinds of literal arguments;
when that still leaves several candidates there is no edge. Methods not found in an internal
hierarchy are reported as the single explicit external ancestor that may declare them.
"""

from __future__ import annotations

from typing import Any

from graphmer_core.kg.java.model import OBJECT_METHODS, PRIMITIVES, MethodDecl, TypeDecl
from graphmer_core.kg.java.types import TypeIndex

# literal argument kind -> parameter types (simple names) it can be passed to
LIT_OK = {
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


class MemberIndex(TypeIndex):
    """A TypeIndex that also finds the method a call reaches."""

    def find_method(self, t: TypeDecl, name: str, argc: int, kinds: list[str], inherit: bool = True
                    ) -> tuple[Any, str]:
        """(method, exact|inherited|overload) or (None, none|nofit|ambiguous|external:<fqn>)."""
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

    def _by_literals(self, fit: list[tuple[MethodDecl, bool]], kinds: list[str]
                     ) -> list[tuple[MethodDecl, bool]]:
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
                elif p in LIT_OK[k] or (p in m.tparams or p in m.owner.tparams):
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
