"""Value flow: a flow-insensitive points-to analysis over the whole corpus, for the calls that the
name and type lookup of `bindings`/`types` leaves unresolved.

A value set is the set of abstract values an expression may hold: ("fn", eid), ("cls", eid),
("inst", class eid), ("mod", name), ("ext", dotted), ("seq", frozenset of element values) for a
list, tuple, set or dict (its values), and ("sup", class eid) for `super()` in a method of that
class. Where `bindings` asks every binding of a name to agree on one value, here a name holds the
union of what all its bindings give: assignments (plain and joined: `a or b`, `a if c else b`),
loop targets (the elements of the iterable), parameters (the values of the arguments at every
call site the corpus has of that function, their defaults, their annotations, `self`/`cls`),
instance and class attributes (per class, along the MRO; a builtin base such as `dict` does not
hide the bases after it when it lacks the name), function returns, stores into containers
(`x[k] = v`), `getattr(x, "name")`, `type(x)` and `x.__class__`. Unknown values (externals,
results of external calls) add nothing.

Arguments reach parameters through a table of call sites per function, built from the callees
the lookup of `bindings` resolves, then extended round by round with the callees this analysis
resolves, until a round links nothing new (at most `MAX_ROUNDS`). Decorator applications pass
the decorated function to the decorator's first parameter.

Precision first: a call whose value set holds more than `bound` callables gets no edge at all,
and dispatch to subclass overrides is never followed (the receiver's own classes only; the KG's
`overrides` edges say the rest). Its edges are labelled `points_to`.
"""

from __future__ import annotations

import builtins

from graphmer_core.kg.python.bindings import _Module

DEFAULT_BOUND = 8
MAX_ROUNDS = 1
_EMPTY: frozenset = frozenset()
_SUPER_NAMES = frozenset({("ext", "builtins.super")})


class PointsTo:
    """The points-to analysis (a mixin of Resolver)."""

    bound: int = DEFAULT_BOUND
    rounds: int = MAX_ROUNDS

    # --- indexing ----------------------------------------------------------------------------
    def pt_index(self) -> None:
        """Group the extractor's value-flow facts by where they are read."""
        self.pt_flows: dict[tuple, list] = {}     # (module, scope, target) -> [expr]
        self.pt_stores: dict[tuple, list] = {}    # (module, "x[]") -> [(scope, expr)]
        self.pt_fors: dict[tuple, list] = {}      # (module, scope, name) -> [expr]
        self.pt_rets: dict[str, list] = {}        # function eid -> [(module, scope, expr)]
        self.pt_defaults: dict[tuple, list] = {}  # (function eid, param) -> [(module, scope, expr)]
        self.pt_calls: list[tuple] = []           # (module, scope, line, callee, args, kwargs)
        self.pt_cache: dict = {}
        self.pt_active: set = set()
        self.param_in: dict[str, list] = {}       # function eid -> [(module, scope, args, kwargs, shift)]
        # every name bound anywhere (defs, assignment targets, imports): `x.m` can only reach a
        # function or class when something somewhere binds an `m`
        self.pt_names: set[str] = set(self.kinds_by_name())
        for mod in self.modules.values():
            facts = mod.file.facts
            scopes = mod.scopes
            n = len(scopes)
            for scope, _line, target, expr in facts.get("flows", ()):
                if not -1 <= scope < n:
                    continue
                if target.endswith("[]"):
                    self.pt_stores.setdefault((mod.name, target), []).append((scope, expr))
                else:
                    self.pt_flows.setdefault((mod.name, scope, target), []).append(expr)
            for scope, name, expr in facts.get("fors", ()):
                if -1 <= scope < n:
                    self.pt_fors.setdefault((mod.name, scope, name), []).append(expr)
            for scope, expr in facts.get("rets", ()):
                if 0 <= scope < n and scopes[scope].kind == "f":
                    self.pt_rets.setdefault(scopes[scope].eid, []).append((mod, scope, expr))
            for scope, param, expr in facts.get("defaults", ()):
                if 0 <= scope < n and scopes[scope].kind == "f":
                    key = (scopes[scope].eid, param)
                    self.pt_defaults.setdefault(key, []).append((mod, scopes[scope].parent, expr))
            for scope, line, callee, args, kwargs in facts.get("pcalls", ()):
                if -1 <= scope < n:
                    self.pt_calls.append((mod, scope, line, callee, args, kwargs))  # frozen when linked

    def kinds_by_name(self):
        for mod in self.modules.values():
            yield from mod.ns
            for sc in mod.scopes:
                yield sc.name
                yield from sc.locals
        for cls in self.classes.values():
            yield from cls.attrs

    def may_reach(self, e) -> bool:
        """False when `e` surely reaches no function or class: an attribute no one binds."""
        if e[0] == "n":
            return e[1].rpartition(".")[2] in self.pt_names
        if e[0] == "a" or e[0] == "g":
            return e[2] in self.pt_names
        return True

    def link_arguments(self) -> None:
        """Fill `param_in`: first from the callees name lookup resolves, then, round by round,
        from those this analysis resolves, until a round adds nothing."""
        linked: set[tuple] = set()
        pending = []
        for mod, scope, line, callee, args, kwargs in self.pt_calls:
            if not args and not kwargs:
                continue
            if callee[0] == "n":
                v, _label = self.callee(mod, scope, callee[1])
                if v is not None:
                    if v[0] in ("fn", "cls"):
                        self.link_site((mod, scope, line, callee, args, kwargs), (v,), linked)
                    continue
            if self.may_reach(callee):
                pending.append((mod, scope, line, callee, args, kwargs))
        for sc_eid, deco_sites in self.decorator_sites():
            for mod, scope, v in deco_sites:
                self.link_value_arg(v, (mod, scope, [("fn-value", sc_eid)], [], 0), linked)
        for _ in range(self.rounds):
            before = len(linked)
            for site in pending:
                values = self.pt(site[0], site[1], site[3])
                if 0 < len(values) <= self.bound:
                    self.link_site(site, values, linked)
            if len(linked) == before:
                break
            self.pt_cache.clear()

    def decorator_sites(self):
        """(decorated function eid, [(module, scope, decorator value)]) of each decorated def."""
        for mod in self.modules.values():
            for sc in mod.scopes:
                if sc.kind != "f" or not sc.row[5]:
                    continue
                sites = []
                for text in sc.row[5]:
                    if text.replace(".", "").replace("_", "").isalnum():
                        v, _ = self.expr(mod, sc.parent, text)
                        if v is not None and v[0] == "fn":
                            sites.append((mod, sc.parent, v))
                if sites:
                    yield sc.eid, sites

    def link_site(self, site: tuple, values, linked: set) -> None:
        mod, scope, _line, callee, args, kwargs = site
        shift = None  # a method reached through an instance: its first parameter is the receiver
        if callee[0] == "n" and "." not in callee[1]:
            shift = 0  # a plain name: the function itself (a def called in its class body, too)
        elif callee[0] == "n":
            rv, _ = self.expr(mod, scope, callee[1].rpartition(".")[0])
            shift = 0 if rv is not None and rv[0] == "cls" else None
        for v in values:
            self.link_value_arg(v, (mod, scope, args, kwargs, shift), linked)

    def link_value_arg(self, v: tuple, entry: tuple, linked: set) -> None:
        mod, scope, args, kwargs, shift = entry
        if v[0] == "cls":
            init, _ = self.class_attr(v[1], "__init__", instance=True, skip_first=False, label="")
            if init is None or init[0] != "fn":
                return
            fn, shift = init[1], 1
        elif v[0] == "fn":
            fn = v[1]
            if shift is None:
                sc = self.fns.get(fn)
                shift = 1 if sc is not None and sc.self_value is not None else 0
        else:
            return
        key = (fn, id(args), id(kwargs), shift)  # the argument lists of the facts: one per site
        if key in linked:
            return
        linked.add(key)
        self.param_in.setdefault(fn, []).append((mod, scope, args, kwargs, shift))

    # --- value sets --------------------------------------------------------------------------
    def pt(self, mod: _Module, scope: int, e) -> frozenset:
        """The value set of the value expression `e` (nested lists of the facts, or tuples) in a
        scope. Expressions of the facts are memoised by identity: they live as long as the facts."""
        if e[0] == "n":
            key = (mod.name, scope, e[1])
        elif type(e) is list:
            key = (mod.name, scope, id(e))
        else:
            key = (mod.name, scope, tuple(id(x) if type(x) is list else x for x in e))
        hit = self.pt_cache.get(key)
        if hit is not None:
            return hit
        if key in self.pt_active:
            return _EMPTY
        self.pt_active.add(key)
        try:
            out = self._pt(mod, scope, e)
        finally:
            self.pt_active.discard(key)
        if len(out) > 4 * self.bound:
            out = _EMPTY  # too vague to be of use anywhere
        self.pt_cache[key] = out
        return out

    def _pt(self, mod: _Module, scope: int, e: tuple) -> frozenset:
        tag = e[0]
        if tag == "n":
            parts = e[1].split(".")
            values = self.pt_name(mod, scope, parts[0])
            for p in parts[1:]:
                if not values:
                    break
                values = self.pt_attrs(values, p)
            return values
        if tag == "a" or tag == "g":
            return self.pt_attrs(self.pt(mod, scope, e[1]), e[2])
        if tag == "c":
            callees = self.pt(mod, scope, e[1])
            if callees & _SUPER_NAMES:
                return self.pt_super(mod, scope)
            return self.pt_results(callees)
        if tag == "o":
            out: set = set()
            for x in e[1]:
                out |= self.pt(mod, scope, x)
            return frozenset(out)
        if tag == "l":
            items: set = set()
            for x in e[1]:
                items |= self.pt(mod, scope, x)
            return frozenset({("seq", frozenset(items))}) if items else _EMPTY
        if tag == "i":
            out = set()
            for v in self.pt(mod, scope, e[1]):
                if v[0] == "seq":
                    out |= v[1]
            if e[1][0] == "n" and e[1][1] + "[]" != "[]":
                for s, x in self.pt_stores.get((mod.name, e[1][1] + "[]"), ()):
                    out |= self.pt(mod, s, x)
            return frozenset(out)
        if tag == "t":
            return frozenset(("cls", v[1]) for v in self.pt(mod, scope, e[1]) if v[0] == "inst")
        if tag == "S":
            return self.pt_super(mod, scope)
        if tag == "fn-value":
            return frozenset({("fn", e[1])})
        return _EMPTY

    def pt_super(self, mod: _Module, scope: int) -> frozenset:
        s = scope
        while s >= 0 and not (mod.scopes[s].kind == "f" and mod.scopes[s].self_value is not None):
            s = mod.scopes[s].parent
        if s < 0:
            return _EMPTY
        return frozenset({("sup", mod.scopes[mod.scopes[s].parent].eid)})

    def pt_results(self, callees) -> frozenset:
        """What calling each value may return: instances of classes, returns of functions."""
        out: set = set()
        for v in callees:
            if v[0] == "cls":
                out.add(("inst", v[1]))
            elif v[0] == "fn":
                out |= self.pt_returns(v[1])
        return frozenset(out)

    def pt_returns(self, fn: str) -> frozenset:
        key = ("R", fn)
        hit = self.pt_cache.get(key)
        if hit is not None:
            return hit
        if key in self.pt_active:
            return _EMPTY
        self.pt_active.add(key)
        out: set = set()
        try:
            for mod, scope, expr in self.pt_rets.get(fn, ()):
                out |= self.pt(mod, scope, expr)
            sc = self.fns.get(fn)
            if sc is not None and sc.row[7]:
                owner = self.modules[self.fn_module[fn]]
                cls = self.hint_class(owner, sc.parent, sc.row[7])
                if cls is not None:
                    out.add(("inst", cls))
        finally:
            self.pt_active.discard(key)
        result = self.pt_cache[key] = frozenset(out)
        return result

    def pt_name(self, mod: _Module, scope: int, name: str) -> frozenset:
        """A name looked up as `bindings._lookup` does, holding the union of its bindings."""
        s, first = scope, True
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
                return self.pt_bindings(mod, s, name, bindings)
            s = sc.parent
        bindings = mod.ns.get(name)
        if bindings:
            return self.pt_bindings(mod, -1, name, bindings)
        v, _label = self.lookup(mod, scope, name)
        return frozenset({v}) if v is not None else _EMPTY

    def pt_bindings(self, mod: _Module, s: int, name: str, bindings: list) -> frozenset:
        key = ("B", mod.name, s, name)
        hit = self.pt_cache.get(key)
        if hit is not None:
            return hit
        if key in self.pt_active:
            return _EMPTY
        self.pt_active.add(key)
        out: set = set()
        try:
            for b in bindings:
                out |= self.pt_binding(mod, s, name, b)
        finally:
            self.pt_active.discard(key)
        result = self.pt_cache[key] = frozenset(out)
        return result

    def pt_binding(self, mod: _Module, s: int, name: str, b: tuple) -> frozenset:
        tag = b[0]
        if tag == "val":
            return frozenset({b[1]})
        if tag == "param":
            return self.pt_param(mod, s, name, b)
        if tag == "asg":
            _, bmod, scope, kind, rhs, ann, _line = b
            out: set = set()
            if ann:
                cls = self.hint_class(bmod, scope, ann)
                if cls is not None:
                    out.add(("inst", cls))
            if kind == "c":
                out |= self.pt(bmod, scope, ("c", ("n", rhs)) if "()." not in rhs else
                               ("c", ("a", ("c", ("n", rhs.rpartition("().")[0])), rhs.rpartition("().")[2])))
            elif kind == "n":
                out |= self.pt(bmod, scope, ("n", rhs))
            elif kind == "":
                for expr in self.pt_flows.get((bmod.name, scope, name), ()):
                    out |= self.pt(bmod, scope, expr)
            elif kind == "b":
                for expr in self.pt_fors.get((bmod.name, scope, name), ()):
                    out |= self.pt(bmod, scope, ("i", expr))
            return frozenset(out)
        found = self.binding_value(b)  # imports
        return frozenset({found[0]}) if isinstance(found, tuple) and found[0] is not None else _EMPTY

    def pt_param(self, mod: _Module, s: int, name: str, b: tuple) -> frozenset:
        _, ann, star, i = b
        if star:
            return _EMPTY
        sc = mod.scopes[s]
        out: set = set()
        if i == 0 and sc.self_value is not None:
            return frozenset({sc.self_value})
        if ann:
            cls = self.hint_class(mod, sc.parent, ann)
            if cls is not None:
                out.add(("inst", cls))
        for dmod, dscope, expr in self.pt_defaults.get((sc.eid, name), ()):
            out |= self.pt(dmod, dscope, expr)
        for cmod, cscope, args, kwargs, shift in self.param_in.get(sc.eid, ()):
            pos = i - shift
            if 0 <= pos < len(args) and args[pos] is not None:
                out |= self.pt(cmod, cscope, args[pos])
            for k, expr in kwargs:
                if k == name:
                    out |= self.pt(cmod, cscope, expr)
        return frozenset(out)

    # --- attributes ------------------------------------------------------------------------------
    def pt_attrs(self, values, name: str) -> frozenset:
        out: set = set()
        for v in values:
            out |= self.pt_attr(v, name)
        return frozenset(out)

    def pt_attr(self, v: tuple, name: str) -> frozenset:
        tag = v[0]
        if tag == "mod":
            target = self.modules.get(v[1])
            if target is None:
                return _EMPTY
            bindings = target.ns.get(name)
            if bindings:
                return self.pt_bindings(target, -1, name, bindings)
            found, _ = self.member(target, name)
            return frozenset({found}) if found is not None else _EMPTY
        if tag == "inst" and name == "__class__":
            return frozenset({("cls", v[1])})
        if tag in ("cls", "inst"):
            return self.pt_class_attr(v[1], name, tag == "inst", skip_first=False)
        if tag == "sup":
            return self.pt_class_attr(v[1], name, True, skip_first=True)
        return _EMPTY

    def pt_class_attr(self, cls_eid: str, name: str, instance: bool, skip_first: bool) -> frozenset:
        """`name` on a class or its instances: the first class of the MRO that binds it."""
        key = ("CA", cls_eid, name, instance, skip_first)
        hit = self.pt_cache.get(key)
        if hit is not None:
            return hit
        out: frozenset = _EMPTY
        for i, entry in enumerate(self.mro(cls_eid)):
            if i == 0 and skip_first:
                continue
            if not isinstance(entry, str):
                if entry[0] == "ext" and self.builtin_lacks(entry[1], name):
                    continue
                break
            cls = self.classes[entry]
            if instance and name in cls.attrs:
                out = self.pt_bindings_of_class(cls, name)
                break
            if name in cls.members:
                out = self.pt_bindings(cls.mod, cls.scopes[0].idx, name, cls.members[name])
                break
        self.pt_cache[key] = out
        return out

    def pt_bindings_of_class(self, cls, name: str) -> frozenset:
        """Instance attribute `self.name`: every assignment of it in the class's methods."""
        key = ("IA", cls.eid, name)
        hit = self.pt_cache.get(key)
        if hit is not None:
            return hit
        if key in self.pt_active:
            return _EMPTY
        self.pt_active.add(key)
        out: set = set()
        try:
            for b in cls.attrs[name]:
                _, bmod, scope, kind, rhs, ann, _line = b
                target = bmod.scopes[scope].row[6][0][0] + "." + name if scope >= 0 and bmod.scopes[scope].row[6] \
                    else name
                if kind == "":
                    for expr in self.pt_flows.get((bmod.name, scope, target), ()):
                        out |= self.pt(bmod, scope, expr)
                else:
                    out |= self.pt_binding(bmod, scope, target, b)
            if name in cls.members:
                out |= self.pt_bindings(cls.mod, cls.scopes[0].idx, name, cls.members[name])
        finally:
            self.pt_active.discard(key)
        result = self.pt_cache[key] = frozenset(out)
        return result

    @staticmethod
    def builtin_lacks(dotted: str, name: str) -> bool:
        """Whether a builtin base class (`builtins.dict`) surely has no attribute `name`."""
        if dotted in ("builtins.object", "abc.ABC", "typing.Generic", "typing.Protocol"):
            return True
        if not dotted.startswith("builtins.") or dotted.count(".") != 1:
            return False
        base = getattr(builtins, dotted[9:], None)
        return isinstance(base, type) and not hasattr(base, name)

    # --- emission ----------------------------------------------------------------------------
    def points_to_callees(self, mod: _Module, scope: int, e: tuple) -> list[tuple]:
        """The functions and classes a call may reach, or [] when unknown or over the bound."""
        if not self.may_reach(e):
            return []
        values = [v for v in self.pt(mod, scope, e) if v[0] in ("fn", "cls")]
        return values if len(values) <= self.bound else []
