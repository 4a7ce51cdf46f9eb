"""Call sites of one Java file: the type of each receiver, then the method the call reaches.

An unqualified ``m()`` looks in the current type's hierarchy (superclasses, then interfaces) then
in the enclosing types, then in static imports ("exact" when found in the type itself,
"inherited" above it, "import" through a static import). ``this.m()`` is "self", ``super.m()``
"super", a receiver with a declared type (field, parameter, local, cast) "type_hint", ``var x =
new T()`` "assigned", ``Type.m()`` and ``new T().m()`` "exact", a chain ``a().b()`` only when
``a`` resolves to an internal method whose declared return type resolves ("type_hint");
"overload" marks an edge chosen among several overloads. A receiver of unknown type gives no
edge (untyped lambda parameters, names declared with different types in one method, results of
unresolved calls). Inside an anonymous class an unqualified call looks in its (internal)
supertype first, then in the enclosing types; when that supertype is external the call is
dropped. Methods not found in an internal hierarchy go to its single explicit external ancestor
(ExternalFunction), to the single external static on-demand import, to ``java.lang.Object`` for
its methods, or are dropped.
"""

from __future__ import annotations

from typing import Any

from graphmer_core.kg.java.generics import has_vars, subst, unwrap
from graphmer_core.kg.java.model import MethodDecl, TypeDecl

AMBIGUOUS = object()  # a local name declared with different types in one scope
_PRIMITIVE_KINDS = frozenset({"int", "long", "double", "float", "char", "boolean"})


class CallSites:
    """Resolution of the calls of one file; mixed into FileEmitter, which provides ``r`` (the
    Resolver), ``f`` (the Unit), ``locals``, ``calls``, ``call_memo``, ``scope()`` and ``triple()``."""

    # --- what an argument is ------------------------------------------------------------------
    def arg_types(self, kinds: list[str], sc: Any, s: int, anon: str) -> list[Any]:
        """Types of a call's arguments (see MemberIndex.assignable), None where not evident."""
        return [self.arg_type(k, sc, s, anon) for k in kinds]

    def arg_type(self, k: str, sc: Any, s: int, anon: str) -> Any:
        if not k:
            return None
        r = self.r
        t = sc[1]
        if k in _PRIMITIVE_KINDS:
            return ("p", k, 0)
        if k == "String":
            it = r.types.get("java.lang.String")
            return ("i", it, 0) if it is not None else ("e", "java.lang.String", 0)
        if k == "null" or k == "fn":
            return (k,)
        if k == "this":
            return None if anon else ("i", t, 0)
        kind, _, v = k.partition(":")
        if kind == "n":
            return self.name_type(v, sc, s)
        if kind == "q":
            return self.dotted_type(v, sc, s)
        if kind == "c" or kind == "new":
            return r.type_of(v, t, sc[3] | t.tparams)
        if kind == "k":
            return self.result_type(int(v))
        if kind == "ai":
            ty = self.name_type(v, sc, s)
            if ty is None or ty[0] not in ("p", "i", "e") or not ty[2]:
                return None
            return (ty[0], ty[1], ty[2] - 1)
        return None

    def name_type(self, name: str, sc: Any, s: int) -> Any:
        """The declared type of a local, parameter or field name."""
        r = self.r
        t = sc[1]
        lv = self.local_type(s, name)
        if lv is AMBIGUOUS:
            return None
        if lv is not None:
            if lv[0] == "var":
                v = unwrap(self.var_value(name, lv[1], sc, s, -1))
                return v if v is not None and v[0] in ("i", "e", "p") else None
            ty = lv[0]
            return r.type_of(ty, t, sc[3] | t.tparams) if ty and ty != "?" else None
        c: TypeDecl | None = t
        while c is not None:
            ft = r.field_type(c, name)
            if ft is not None:
                return r.type_of(ft[0], ft[1], ft[1].tparams)
            c = c.outer
        return None

    def dotted_type(self, text: str, sc: Any, s: int) -> Any:
        """`a.b.c`, `this.f`, `Type.FIELD`, `arr.length`: the type of the last field."""
        r = self.r
        parts = text.split(".")
        first = parts[0]
        if first == "this":
            ty: Any = ("i", sc[1], 0)
        else:
            ty = self.name_type(first, sc, s)
            if ty is None and first[:1].isupper():
                ref = r.type_ref(first, self.f, sc[1], sc[3])
                ty = ("i", ref[1], 0) if ref is not None and ref[0] == "i" else None
        for seg in parts[1:]:
            if ty is None:
                return None
            if ty[0] != "null" and ty[0] != "fn" and ty[2]:
                return ("p", "int", 0) if seg == "length" else None
            if ty[0] != "i":
                return None
            ft = r.field_type(ty[1], seg)
            ty = r.type_of(ft[0], ft[1], ft[1].tparams) if ft is not None else None
        return ty

    def result_type(self, j: int) -> Any:
        """The declared return type of the method call row j reaches (resolved first), its type
        arguments substituted from the receiver's (generics.py)."""
        self.call(j)
        v = unwrap(self.call_val.get(j))
        return v if v is not None and v[0] in ("i", "e", "p") else None

    # --- receivers and calls --------------------------------------------------------------------
    def value_ref(self, text: str, f: Any, ctx: TypeDecl | None, tp: frozenset[str]) -> Any:
        """The type ref of a value declared `text`: an array's methods are java.lang.Object's."""
        if text.endswith("]"):
            it = self.r.types.get("java.lang.Object")
            return ("i", it, "exact") if it is not None else ("e", "java.lang.Object", "external")
        return self.r.type_ref(text, f, ctx, tp)

    def local_type(self, s: int, name: str) -> tuple[str, str] | None:
        d = self.locals.get(s)
        if d is None:
            return None
        v = d.get(name)
        return v  # (type, var_new_type), AMBIGUOUS or None

    def receiver_type(self, k: int, sc: tuple[str, TypeDecl, MethodDecl | None, frozenset[str]],
                      rk: str, rv: Any, s: int) -> tuple[Any, str] | None:
        """(type ref, resolution) of a call's receiver; None when unknown."""
        r, f = self.r, self.f
        head, t, m, tp = sc
        if rk == "id" or rk == "q":
            parts = rv.split(".") if rk == "q" else [rv]
            first = parts[0]
            ref, res = None, "type_hint"
            lam = self.calls[k][8] if k >= 0 and len(self.calls[k]) > 8 else -1
            slot = self.lambda_slot(lam, first)
            lv = self.local_type(s, first) if slot is None else None
            if slot is not None:  # a lambda parameter: its declared type, else the target's
                ref = self.val_ref(self.lambda_param_value(*slot))
                if ref is None:
                    return None
            elif lv is AMBIGUOUS:
                return None
            elif lv is not None:
                if lv[0] == "?":
                    return None  # an untyped lambda parameter
                if lv[0] == "var":
                    ref, res = self.val_ref(self.var_value(first, lv[1], sc, s, lam)), "assigned"
                    if ref is None:
                        return None
                else:
                    ref = self.value_ref(lv[0], f, t, tp)
                    if ref is None:  # a type variable: its bound
                        ref = self.val_ref(self.name_value(first, sc, s, lam))
                        if ref is None:
                            return None
            else:
                c: TypeDecl | None = t
                while c is not None and ref is None:
                    ft = r.field_type(c, first)
                    if ft is not None:
                        ref = self.value_ref(ft[0], f, ft[1], frozenset())
                        if ref is None:  # a type variable: its bound or type argument
                            ref = self.val_ref(r.field_value(r.self_value(c, r.bound_env(c, None)), first))
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
                ref, res = self.value_ref(ft[0], f, ft[1], frozenset()), "type_hint"
            return (ref, res) if ref is not None else None
        if rk == "tf":
            c = t
            ft = r.field_type(c, rv)
            if ft is None:
                return None
            ref = self.value_ref(ft[0], f, ft[1], frozenset())
            return (ref, "type_hint") if ref is not None else None
        if rk == "new":
            ref = r.type_ref(rv, f, t, tp)
            return (ref, "exact") if ref is not None else None
        if rk == "cast":
            ref = self.value_ref(rv, f, t, tp)
            return (ref, "type_hint") if ref is not None else None
        if rk == "str":
            it = r.types.get("java.lang.String")
            return (("i", it, "exact") if it is not None else ("e", "java.lang.String", "external"),
                    "exact")
        if rk == "cls":
            it = r.types.get("java.lang.Class")
            return (("i", it, "exact") if it is not None else ("e", "java.lang.Class", "external"), "exact")
        if rk == "ai":
            ty = self.name_type(rv, sc, s)
            if ty is None or ty[0] not in ("i", "e") or ty[2] != 1:
                return None
            return (("i", ty[1], "exact") if ty[0] == "i" else ("e", ty[1], "external"), "type_hint")
        if rk == "call" and isinstance(rv, int):
            self.call(rv)
            ref = self.val_ref(self.call_val.get(rv))
            return (ref, "type_hint") if ref is not None else None
        return None

    # --- values: static types with their type arguments (generics.py) ---------------------------
    def val_ref(self, v: Any) -> Any:
        """The type ref of a value whose members a call looks up: an array's are Object's."""
        v = unwrap(v)
        if v is None or v[0] not in ("i", "e"):
            return None
        if v[2]:
            return self.value_ref("Object[]", self.f, None, frozenset())
        return ("i", v[1], "exact") if v[0] == "i" else ("e", v[1], "external")

    def lambda_slot(self, lam: int, name: str) -> tuple[int, int] | None:
        """(lambda, parameter index) of a name that is a parameter of an enclosing lambda."""
        while lam >= 0:
            row = self.lambdas[lam]
            if name in row[1]:
                return lam, row[1].index(name)
            lam = row[5]
        return None

    def lambda_param_value(self, lam: int, i: int) -> Any:
        """A lambda parameter's type: as declared, else the parameter type of the functional
        interface that the called method's parameter declares (`xs.forEach(x -> ..)` on a
        List<Foo>: Consumer<? super Foo>.accept(T) -> Foo), or that the lambda is assigned to
        (`Sink<Foo> s = x -> ..`, a field, a cast, `return x -> ..`); None when not evident."""
        key = (lam, i)
        if key in self.lam_memo:
            return self.lam_memo[key]
        self.lam_memo[key] = None
        s, names, ptys, row, pos, parent, target = self.lambdas[lam]
        r = self.r
        v = None
        sc = self.scope(s)
        if sc is None:
            return None
        if ptys[i] != "?":
            t = sc[1]
            v = r.gparse(ptys[i], t, sc[3] | t.tparams)
            if has_vars(v):
                v = subst(v, r.bound_env(t, sc[2]))
        elif row >= 0:
            self.call(row)
            target = self.call_memo.get(row)
            if target is not None and pos < target.arity and not (target.varargs and pos >= target.arity - 1):
                pv = r.gparse(target.gparams[pos], target.owner, target.tparams | target.owner.tparams)
                if has_vars(pv):
                    env = r.member_env(self.call_receiver(row), target.owner)
                    for x in target.tparams:
                        env.pop(x, None)
                    pv = subst(pv, env)
                v = r.lambda_param(pv, i, len(names))
        elif target.startswith("ctor:"):  # an argument of `new T(..)`: the constructor's parameter
            _tag, new_row, at = target.split(":")
            ctor = self.new_target(int(new_row))[1]
            at = int(at)
            if ctor is not None and at < ctor.arity and not (ctor.varargs and at >= ctor.arity - 1):
                pv = r.gparse(ctor.gparams[at], ctor.owner, ctor.tparams | ctor.owner.tparams)
                # `new T<A>(..)` is recorded without its type arguments: T's own variables stay unknown
                v = None if has_vars(pv) else r.lambda_param(pv, i, len(names))
        elif target:
            if target == "r":  # the enclosing method's declared return type
                target = "c:" + sc[2].gret if sc[2] is not None and sc[2].gret else ""
            v = r.lambda_param(self.kind_value(target, sc, s, parent), i, len(names)) if target else None
        self.lam_memo[key] = v
        return v

    def name_value(self, name: str, sc: Any, s: int, lam: int) -> Any:
        """The value of a simple name: a lambda parameter, a local or parameter, a field."""
        r = self.r
        slot = self.lambda_slot(lam, name)
        if slot is not None:
            return self.lambda_param_value(*slot)
        t = sc[1]
        lv = self.local_type(s, name)
        if lv is AMBIGUOUS:
            return None
        if lv is not None:
            ty, vt, gt = lv
            if ty == "?":
                return None
            if ty == "var":
                return self.var_value(name, vt, sc, s, lam)
            v = r.gparse(gt or ty, t, sc[3] | t.tparams)
            return subst(v, r.bound_env(t, sc[2])) if has_vars(v) else v
        c: TypeDecl | None = t
        while c is not None:
            if r.field_type(c, name) is not None:
                return r.field_value(r.self_value(c, r.bound_env(c, None)), name)
            c = c.outer
        return None

    def var_value(self, name: str, vt: str, sc: Any, s: int, lam: int) -> Any:
        """`var x = <init>`: the initializer's value (`it:` an element of an Iterable or array)."""
        if not vt:
            return None
        key = (s, name)
        if key in self.evaluating:
            return None
        self.evaluating.add(key)
        try:
            if vt.startswith("it:"):
                return self.element_value(self.kind_value(vt[3:], sc, s, lam))
            return self.kind_value(vt, sc, s, lam)
        finally:
            self.evaluating.discard(key)

    def element_value(self, v: Any) -> Any:
        """What `for (var x : v)` binds: an array's element, an Iterable's T."""
        v = unwrap(v)
        if v is None or v[0] not in ("i", "e", "p"):
            return None
        if v[2]:
            return (v[0], v[1], v[2] - 1, *v[3:])
        it = self.r.types.get("java.lang.Iterable")
        if v[0] != "i" or it is None:
            return None
        return unwrap(self.r.member_env(v, it).get("T"))

    def kind_value(self, k: str, sc: Any, s: int, lam: int) -> Any:
        """The value of an expression described by its argument kind (parsing.java._args)."""
        r = self.r
        t = sc[1]
        if k in _PRIMITIVE_KINDS:
            return ("p", k, 0)
        if k == "String":
            it = r.types.get("java.lang.String")
            return ("i", it, 0, None) if it is not None else ("e", "java.lang.String", 0, None)
        if k == "this":
            return r.self_value(t, r.bound_env(t, sc[2]))
        kind, _, v = k.partition(":")
        if kind == "n":
            return self.name_value(v, sc, s, lam)
        if kind == "k":
            j = int(v)
            self.call(j)
            return self.call_val.get(j)
        if kind == "c" or kind == "new":
            val = r.gparse(v, t, sc[3] | t.tparams)
            return subst(val, r.bound_env(t, sc[2])) if has_vars(val) else val
        if kind == "q":
            return self.dotted_value(v.split("."), sc, s, lam)
        if kind == "ai":
            val = unwrap(self.name_value(v, sc, s, lam))
            return (val[0], val[1], val[2] - 1, *val[3:]) if val is not None and val[0] in ("i", "e", "p") \
                and val[2] else None
        return None

    def dotted_value(self, parts: list[str], sc: Any, s: int, lam: int) -> Any:
        """`a.b.c`, `this.f`, `Type.FIELD`: the value of the last field."""
        r = self.r
        t = sc[1]
        first = parts[0]
        if first == "this":
            v = r.self_value(t, r.bound_env(t, sc[2]))
        else:
            v = self.name_value(first, sc, s, lam)
            if v is None and first[:1].isupper() and self.local_type(s, first) is None:
                ref = r.type_ref(first, self.f, t, sc[3])
                v = ("i", ref[1], 0, None) if ref is not None and ref[0] == "i" else None
        for seg in parts[1:]:
            v = unwrap(v)
            if v is None:
                return None
            v = r.field_value(v, seg)
        return v

    def call_receiver(self, k: int) -> Any:
        """The value of call row k's receiver (`this` for an unqualified call)."""
        if k in self.recv_memo:
            return self.recv_memo[k]
        self.recv_memo[k] = None
        row = self.calls[k]
        s, rk, rv = row[0], row[2], row[3]
        lam = row[8] if len(row) > 8 else -1
        sc = self.scope(s)
        v = None
        if sc is not None:
            r = self.r
            t = sc[1]
            if rk in ("", "this", "super"):
                v = r.self_value(t, r.bound_env(t, sc[2]))
            elif rk == "id":
                v = self.name_value(rv, sc, s, lam)
            elif rk == "q":
                v = self.dotted_value(rv.split("."), sc, s, lam)
            elif rk == "tf":
                v = r.field_value(r.self_value(t, r.bound_env(t, sc[2])), rv)
            elif rk == "call":
                self.call(rv)
                v = self.call_val.get(rv)
            elif rk == "ai":
                v = self.kind_value(f"ai:{rv}", sc, s, lam)
        self.recv_memo[k] = v
        return v

    def call(self, k: int) -> None:
        """Resolve call row k once (a receiver or argument call row is resolved first)."""
        if k in self.done:
            return
        self.done.add(k)
        s, name, rk, rv, argc, kinds, line, anon = self.calls[k][:8]
        sc = self.scope(s)
        if sc is None:
            return
        r = self.r
        args = (lambda: self.arg_types(kinds, sc, s, anon)) if kinds else None
        head, t, m, tp = sc
        target = None
        how = "none"
        res = ""
        if anon and anon != "<enum>" and rk in ("", "this", "super"):
            # inside an anonymous class: its own supertype first, the enclosing type after
            aref = r.type_ref(anon, self.f, t, tp)
            if aref is None or aref[0] != "i":
                return
            target, how = r.find_method(aref[1], name, argc, args)
            if target is not None:
                res = "super" if rk == "super" else "inherited"
            elif how != "none" or rk != "":
                return
        if target is not None:
            pass
        elif name == "<init>":
            if rk == "this":
                target, how = r.find_method(t, "<init>", argc, args, inherit=False)
                res = "self"
            elif rk == "super":
                sup = r.supers(t)[0]
                if sup is None or sup[0] != "i":
                    return
                target, how = r.find_method(sup[1], "<init>", argc, args, inherit=False)
                res = "super"
            else:
                return
        elif rk == "":
            c: TypeDecl | None = t
            guess = ""  # an external ancestor that may declare the method
            while c is not None:
                target, how = r.find_method(c, name, argc, args)
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
                    target, how = r.find_method(ot, name, argc, args)
                    res = "import"
                else:
                    hits = [r.types[o] for o in self.f.static_ondemand
                            if o in r.types and name in r.types[o].methods]
                    if len(hits) == 1:
                        target, how = r.find_method(hits[0], name, argc, args)
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
            target, how = r.find_method(t, name, argc, args)
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
            target, how = r.find_method(sup[1], name, argc, args)
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
            target, how = r.find_method(ref[1], name, argc, args)
            if target is None:
                if how.startswith("external:"):
                    self.triple(head, "calls", r.ext_method(how[9:], name), line, "external")
                return
        if target is None:
            return
        if how == "overload":
            res = "overload"
        self.call_memo[k] = target
        ret = r.declared_return(target)
        if ret is not None and has_vars(ret):
            ret = r.return_value(target, self.call_receiver(k))
        self.call_val[k] = ret
        self.triple(head, "calls", target.id, line, res)

    def method_ref(self, row: list[Any]) -> None:
        """`T::m`, `x::m`, `this::m`, `super::m`, `T::new`: a calls edge ("method_ref") when the
        type has a single method of that name (the functional interface, which would choose
        among overloads, is not known here)."""
        s, rk, rv, name, line, anon = row
        sc = self.scope(s)
        if sc is None:
            return
        r = self.r
        t = sc[1]
        if rk == "this" or rk == "super":
            if anon:
                return
            owner: TypeDecl | None = t
            if rk == "super":
                sup = r.supers(t)[0]
                owner = sup[1] if sup is not None and sup[0] == "i" else None
        else:
            rt = self.receiver_type(-1, sc, rk, rv, s)
            owner = rt[0][1] if rt is not None and rt[0] is not None and rt[0][0] == "i" else None
        if owner is None:
            return
        if name == "new":
            target = r.only_method(owner, "<init>", inherit=False) if owner.kind != "Interface" else None
        else:
            target = r.only_method(owner, name)
        if target is not None:
            self.triple(sc[0], "calls", target.id, line, "method_ref")
