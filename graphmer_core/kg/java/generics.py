"""Generic types of a Java corpus: declared types with their type arguments, substituted.

A type value is what the resolver knows of an expression's static type:
``('i', TypeDecl, dims, args)`` (internal), ``('e', fqn, dims, args)`` (external),
``('p', primitive, dims)``, ``('v', name, dims)`` (a type variable not yet substituted),
``('w+', value)`` / ``('w-', value)`` (wildcards ``? extends`` / ``? super``), or None (not
evident). ``args`` is a tuple of values, or None for a raw type (or a diamond): its type
variables then stand for nothing, and a member whose type is one of them gives no edge.

Type arguments reach a member through the declared generic supertypes (``class A<T> implements
List<T>``: a member of List's ``E`` on an ``A<Foo>`` is a Foo). A type variable in scope stands
for its bound (``<T extends Foo>``: the compiler calls ``Foo.bar()`` on a ``T``); an unbounded one
or a type variable of the called method (inferred at the call site) is not evident. Only the
generic signatures the corpus declares are known: a JDK type outside the corpus is raw.
"""

from __future__ import annotations

from typing import Any

from graphmer_core.kg.java.members import MemberIndex
from graphmer_core.kg.java.model import PRIMITIVES, MethodDecl, TypeDecl

_ENDS = frozenset("<>,[")
# java.lang.Object's public methods that a functional interface may redeclare (JLS 9.8)
_OBJECT_ARITY = {("equals", 1), ("hashCode", 0), ("toString", 0)}


def unwrap(v: Any) -> Any:
    """The type a value stands for where a member is looked up: `? extends T` is a T."""
    if v is not None and v[0] == "w+":
        return v[1]
    if v is not None and v[0] == "w-":
        return None
    return v


def subst(v: Any, env: dict[str, Any]) -> Any:
    """v with its type variables replaced from env (a variable not in env becomes None)."""
    if v is None:
        return None
    k = v[0]
    if k == "v":
        r = env.get(v[1])
        if r is None or not v[2]:
            return r
        r = unwrap(r)
        if r is None or r[0] in ("w+", "w-"):
            return None
        return (r[0], r[1], r[2] + v[2], *r[3:])
    if k == "w+" or k == "w-":
        inner = subst(v[1], env)
        return (k, inner) if inner is not None else None
    if (k == "i" or k == "e") and v[3]:
        return (k, v[1], v[2], tuple(subst(a, env) for a in v[3]))
    return v


def has_vars(v: Any) -> bool:
    if v is None:
        return False
    k = v[0]
    if k == "v":
        return True
    if k == "w+" or k == "w-":
        return has_vars(v[1])
    if (k == "i" or k == "e") and v[3]:
        return any(has_vars(a) for a in v[3])
    return False


class GenericIndex(MemberIndex):
    """A MemberIndex that also reads generic declarations."""

    # --- parsing ---------------------------------------------------------------------------
    def gparse(self, text: str, ctx: TypeDecl, tvars: frozenset[str]) -> Any:
        """A declared type as written (type arguments kept), in the context of a type; its type
        variables (those of `tvars` and of enclosing types) are left as ('v', name, dims)."""
        if not text:
            return None
        return self.memo(self._gmemo, (ctx, text, tvars), self._gparse, text, ctx, tvars)

    def _gparse(self, text: str, ctx: TypeDecl, tvars: frozenset[str]) -> Any:
        try:
            v, i = self._gp(text, 0, ctx, tvars)
        except (IndexError, ValueError):
            return None
        return v if i == len(text) else None

    def declared_return(self, m: MethodDecl) -> Any:
        """m's declared return type, as gparse reads it (None for a constructor)."""
        return self.memo(self._rets, m, self._declared_return, m)

    def _declared_return(self, m: MethodDecl) -> Any:
        return self.gparse(m.gret, m.owner, m.tparams | m.owner.tparams) if m.ret else None

    def _gp(self, s: str, i: int, ctx: TypeDecl, tvars: frozenset[str]) -> tuple[Any, int]:
        if s[i] == "?":
            if s.startswith("?extends", i):
                v, i = self._gp(s, i + 8, ctx, tvars)
                return (("w+", v) if v is not None else None), i
            if s.startswith("?super", i):
                v, i = self._gp(s, i + 6, ctx, tvars)
                return (("w-", v) if v is not None else None), i
            return None, i + 1
        n = len(s)
        name_parts = []
        args: Any = None
        while True:
            j = i
            while j < n and s[j] not in _ENDS:
                j += 1
            name_parts.append(s[i:j])
            i = j
            if i < n and s[i] == "<":
                i += 1
                got = []
                if s[i] == ">":  # a diamond: the arguments are inferred
                    i += 1
                    args = None
                else:
                    while True:
                        a, i = self._gp(s, i, ctx, tvars)
                        got.append(a)
                        if s[i] == ",":
                            i += 1
                            continue
                        if s[i] != ">":
                            raise ValueError(s)
                        i += 1
                        break
                    args = tuple(got)
                if i < n and s[i] == ".":  # Outer<A>.Inner: the inner type's own arguments only
                    i += 1
                    args = None
                    continue
            break
        dims = 0
        while s.startswith("[]", i):
            dims += 1
            i += 2
        name = "".join(name_parts)
        if name in PRIMITIVES:
            return (("p", name, dims) if name not in ("void", "var") else None), i
        if name.partition(".")[0] in tvars:
            return ("v", name, dims), i
        ref = self.type_ref(name, ctx.file, ctx, tvars)
        if ref is None:
            return ("v", name, dims), i  # a type variable of an enclosing type
        if ref[0] == "i":
            t = ref[1]
            if args is not None and len(args) != len(t.row[5]):
                args = None
            return ("i", t, dims, args), i
        if ref[0] == "e":
            return ("e", ref[1], dims, args), i
        return None, i

    # --- type variables in scope ---------------------------------------------------------------
    def bound_env(self, t: TypeDecl, m: MethodDecl | None) -> dict[str, Any]:
        """Type variables in scope -> their bound (None when unbounded or not evident)."""
        return self.memo(t.cache, ("<env>", m), self._bound_env, t, m)

    def _bound_env(self, t: TypeDecl, m: MethodDecl | None) -> dict[str, Any]:
        env: dict[str, Any] = {}
        chain: list[TypeDecl] = []
        c: TypeDecl | None = t
        while c is not None:
            chain.append(c)
            c = c.outer
        for c in reversed(chain):  # inner declarations shadow outer ones
            for name in c.row[5]:
                env[name] = None
            self._bounds_into(env, c.row[9] if len(c.row) > 9 else (), c, c.tparams)
        if m is not None:
            for name in m.tparams:
                env[name] = None
            g = m.row[10] if len(m.row) > 10 else None
            if g:
                self._bounds_into(env, g[2], t, m.tparams | t.tparams)
        return env

    def _bounds_into(self, env: dict[str, Any], bounds: Any, ctx: TypeDecl, tvars: frozenset[str]) -> None:
        for name, bs in bounds:
            vals = [self.gparse(b, ctx, tvars) for b in bs]
            vals = [v for v in vals if v is not None and not (v[0] == "i" and v[1].fqn == "java.lang.Object")
                    and not (v[0] == "e" and v[1] == "java.lang.Object")]
            if len(vals) == 1 and vals[0][0] in ("i", "e"):
                # the bound's own type variables (`T extends Comparable<T>`) are not evident
                env[name] = subst(vals[0], {})

    def self_value(self, t: TypeDecl, env: dict[str, Any]) -> Any:
        """`this` inside t, its type variables standing for their bounds."""
        tp = t.row[5]
        return ("i", t, 0, tuple(env.get(x) for x in tp) if tp else None)

    # --- members of a parameterized type ---------------------------------------------------------
    def gsupers(self, t: TypeDecl) -> list[tuple[TypeDecl, Any]]:
        """Direct internal supertypes of t with their type arguments in t's type variables."""
        return self.guarded(t.cache, "<gsupers>", [], self._gsupers, t)

    def _gsupers(self, t: TypeDecl) -> list[tuple[TypeDecl, Any]]:
        row = t.row
        written = row[10] if len(row) > 10 else []
        out: list[tuple[TypeDecl, Any]] = []
        if written:
            tp = frozenset(row[5])
            ctx = t.outer if t.outer is not None else t
            for text in written:
                v = self.gparse(text, ctx, tp | (t.outer.tparams if t.outer is not None else frozenset()))
                if v is not None and v[0] == "i":
                    out.append((v[1], v[3]))
        else:
            sup, ifaces = self.supers(t)
            for ref in ([sup] if sup is not None else []) + ifaces:
                if ref[0] == "i":
                    out.append((ref[1], None))
        return out

    def anc_args(self, c: TypeDecl, d: TypeDecl, depth: int = 0) -> Any:
        """The type arguments of ancestor d of c, in c's type variables; None when raw somewhere
        on the way or not an ancestor; () when d has no type parameters."""
        if c is d:
            return tuple(("v", x, 0) for x in c.row[5])
        return self.guarded(self._anc_memo, (c, d), None, self._anc_args, c, d, depth)

    def _anc_args(self, c: TypeDecl, d: TypeDecl, depth: int) -> Any:
        found = None
        if depth < 24:
            for st, sargs in self.gsupers(c):
                if st is d:
                    found = sargs if sargs is not None or not d.row[5] else None
                    if not d.row[5]:
                        found = ()
                    break
                up = self.anc_args(st, d, depth + 1)
                if up is None:
                    continue
                if up and sargs is None:
                    continue  # reached through a raw supertype
                env = dict(zip(st.row[5], sargs or (), strict=False))
                found = tuple(subst(a, env) for a in up)
                break
        return found

    def member_env(self, recv: Any, d: TypeDecl) -> dict[str, Any]:
        """Type variables of d (an ancestor of the receiver's type, or that type) -> values."""
        if recv is None or recv[0] != "i" or not d.row[5]:
            return {}
        c = recv[1]
        up = self.anc_args(c, d)
        if not up:
            return {}
        args = recv[3]
        env = dict(zip(c.row[5], args, strict=False)) if args else {}
        return {x: subst(a, env) for x, a in zip(d.row[5], up, strict=False)}

    def return_value(self, m: MethodDecl, recv: Any) -> Any:
        """The declared return type of m called on a receiver of value recv."""
        ret = self.gparse(m.gret, m.owner, m.tparams | m.owner.tparams)
        if not has_vars(ret):
            return ret
        env = self.member_env(recv, m.owner)
        for x in m.tparams:  # the method's own type variables are inferred: not evident
            env.pop(x, None)
        return subst(ret, env)

    def field_value(self, recv: Any, name: str) -> Any:
        """The declared type of field `name` of a receiver of value recv (t's own or inherited)."""
        if recv is None or recv[0] != "i" or recv[2]:
            return None
        ft = self.field_type(recv[1], name)
        if ft is None:
            return None
        text, d = ft
        g = d.gfields.get(name, text)
        v = self.gparse(g, d, d.tparams)
        if not has_vars(v):
            return v
        return subst(v, self.member_env(recv, d))

    # --- functional interfaces --------------------------------------------------------------
    def sam(self, t: TypeDecl) -> MethodDecl | None:
        """The single abstract method of an internal interface, None when not one."""
        return self.guarded(t.cache, "<sam>", None, self._sam, t)

    def _sam(self, t: TypeDecl) -> MethodDecl | None:
        if t.kind != "Interface" or t.decl == "annotation":
            return None
        found: dict[tuple[str, int], MethodDecl] = {}
        chain, _ext, unknown = self.ancestors(t)
        if unknown or _ext:
            return None
        for c in [t, *chain]:
            for ms in c.methods.values():
                for m in ms:
                    if m.abstract and not m.static and not m.private and \
                            (m.name, m.arity) not in _OBJECT_ARITY:
                        found.setdefault((m.name, m.arity), m)
        return next(iter(found.values())) if len(found) == 1 else None

    def lambda_param(self, fi: Any, i: int, n: int) -> Any:
        """The type of parameter i of a lambda of n parameters given to a parameter of value fi."""
        fi = unwrap(fi)
        if fi is None or fi[0] != "i" or fi[2]:
            return None
        m = self.sam(fi[1])
        if m is None or m.arity != n or m.varargs:
            return None
        pv = self.gparse(m.gparams[i], m.owner, m.tparams | m.owner.tparams)
        if has_vars(pv):
            env = self.member_env(fi, m.owner)
            for x in m.tparams:
                env.pop(x, None)
            pv = subst(pv, env)
        if pv is not None and pv[0] in ("w+", "w-"):  # JLS 9.9: `? super T` / `? extends T` -> T
            pv = pv[1]
        return pv
