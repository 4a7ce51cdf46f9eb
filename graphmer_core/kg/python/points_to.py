"""Value flow: a flow-insensitive points-to analysis over the whole corpus, for the calls that the name
and type lookup of `bindings`/`types` leaves unresolved.

A value set is the set of abstract values an expression may hold: ("fn", eid), ("cls", eid),
("inst", class eid) (("inst", class eid, method eid) for `self` in that method), ("mod", name),
("ext", dotted), ("seq", frozenset of element values) for a list, tuple, set or dict (its values),
("map", frozenset of (key, value)) for a dict with string literal keys (`d["k"]` reads the values
under "k"), and ("sup", class eid) for `super()` in a method of that class. Where `bindings` asks
every binding of a name to agree on one value, here a name holds the union of what all its bindings
give: assignments (plain and joined: `a or b`, `a if c else b`), loop targets (the elements of the
iterable), parameters (the values of the arguments at every call site the corpus has of that
function, their defaults, their annotations, `self`/`cls`), instance and class attributes (per
class, along the MRO; a builtin base such as `dict` does not hide the bases after it when it lacks
the name), function returns, stores into containers (`x[k] = v`, `x.append(v)`, `x.add(v)`,
`x.insert(i, v)`), `getattr(x, "name")`, `type(x)` and `x.__class__`. Unknown values (externals,
results of external calls) add nothing. `x[k]` on an instance is what its class's `__getitem__`
returns. An attribute that a class neither binds nor inherits (nor `object` has) is an abstract
member: `self.step()` in a template method, `self._flavour` set by each subclass; it is what the
lookups of the subclasses find (no override is involved: the class has none of its own).

Arguments reach parameters through a table of call sites per function, built from the callees the
lookup of `bindings` resolves, from decorator applications (the decorated function into the
decorator's first parameter), then in one more round from the callees this analysis resolves. A
returned parameter (`def wrap(f): return f`) flows back to each call site from that site's own
argument, not from every caller's.

Alternatives: a name bound in an `if`/`try` statement of a module or class body (platform branches,
import fallbacks), or in a function's `try` that catches ImportError, NameError or AttributeError,
holds one of its bindings on a given run, so it keeps a value only when all its bindings agree on
one (`pt_alternatives`); a single binding there has no alternative and keeps all. A parameter's
default never holds its own function.

Precision first: a call whose value set holds more than `bound` callables gets no edge at all, and
dispatch to subclass overrides is never followed (the receiver's own classes only; the KG's
`overrides` edges say the rest). Its edges are labelled `points_to`.
"""

from __future__ import annotations

import builtins

from graphmer_core.kg.python.bindings import _Module, local_bindings

DEFAULT_BOUND = 8
_EMPTY: frozenset = frozenset()
_ADDERS = {"append": 0, "appendleft": 0, "add": 0, "insert": 1}  # method -> the argument it stores
_SUPER_NAMES = frozenset({("ext", "builtins.super")})


def _key(e):
    """A hashable key of a value expression built here (tuples) over lists of the facts (by identity)."""
    return tuple(id(x) if type(x) is list else _key(x) if type(x) is tuple else x for x in e)


class PointsTo:
    """The points-to analysis (a mixin of Resolver)."""

    bound: int = DEFAULT_BOUND

    # --- indexing ----------------------------------------------------------------------------
    def pt_index(self) -> None:
        """Group the extractor's value-flow facts by where they are read."""
        self.pt_flows: dict[tuple, list] = {}     # (module, scope, target, line) -> [expr]
        self.pt_stores: dict[tuple, list] = {}    # (module, "x[]") -> [(scope, expr)]
        self.pt_fors: dict[tuple, list] = {}      # (module, scope, name) -> [expr]
        self.pt_rets: dict[str, list] = {}        # function eid -> [(module, scope, expr)]
        self.pt_defaults: dict[tuple, list] = {}  # (function eid, param) -> [(module, scope, expr)]
        self.pt_calls: list[tuple] = []           # (module, scope, line, callee, args, kwargs)
        self.pt_through: dict[str, list] = {}     # function eid -> [parameter name it returns]
        self.pt_site: dict[tuple, tuple] = {}     # (module, scope, line, dotted callee) -> (args, kwargs)
        self.pt_conds: dict[tuple, list] = {}     # (module, scope) -> [(start, end)] of if/try statements
        self.pt_cache: dict = {}
        self.param_in: dict[str, list] = {}       # function eid -> [(module, scope, args, kwargs, shift)]
        # every name bound anywhere (defs, assignment targets, imports): `x.m` can only reach a
        # function or class when something somewhere binds an `m`
        self.pt_names: set[str] = set(self.kinds_by_name())
        for mod in self.modules.values():
            facts = mod.file.facts
            scopes = mod.scopes
            n = len(scopes)
            for scope, line, target, expr in facts.get("flows", ()):
                if not -1 <= scope < n:
                    continue
                if target.endswith("[]"):
                    self.pt_stores.setdefault((mod.name, target), []).append((scope, expr))
                else:
                    self.pt_flows.setdefault((mod.name, scope, target, line), []).append(expr)
            for scope, name, expr in facts.get("fors", ()):
                if -1 <= scope < n:
                    self.pt_fors.setdefault((mod.name, scope, name), []).append(expr)
            for scope, expr in facts.get("rets", ()):
                if 0 <= scope < n and scopes[scope].kind == "f":
                    sc = scopes[scope]
                    expr = self.split_return(sc, expr)
                    if expr is not None:
                        self.pt_rets.setdefault(sc.eid, []).append((mod, scope, expr))
            for scope, start, end in facts.get("conds", ()):
                self.pt_conds.setdefault((mod.name, scope if 0 <= scope < n else -1), []).append((start, end))
            for scope, param, expr in facts.get("defaults", ()):
                if 0 <= scope < n and scopes[scope].kind == "f":
                    key = (scopes[scope].eid, param)
                    self.pt_defaults.setdefault(key, []).append((mod, scopes[scope].parent, expr))
            for scope, line, callee, args, kwargs in facts.get("pcalls", ()):
                if -1 <= scope < n:
                    self.pt_calls.append((mod, scope, line, callee, args, kwargs))  # frozen when linked
                    if callee[0] == "n":
                        self.pt_site[(mod.name, scope, line, callee[1])] = (args, kwargs)
                        box, _, method = callee[1].rpartition(".")
                        pos = _ADDERS.get(method)
                        if pos is not None and box and len(args) == pos + 1 and args[pos] is not None:
                            # `xs.append(v)` stores v into xs, as `xs[k] = v` does
                            self.pt_stores.setdefault((mod.name, box + "[]"), []).append((scope, args[pos]))

    def split_return(self, sc, expr):
        """Context for returned parameters: `return x` (or `x or y`) of a parameter `x` flows to a
        call site from that site's own argument (`pt_through`), not from every caller's; the rest
        of the expression (None when nothing is left) is what any call of the function returns."""
        items = expr[1] if expr[0] == "o" else (expr,)
        rest = []
        for x in items:
            if x[0] == "n" and "." not in x[1]:
                bs = sc.locals.get(x[1])
                if bs and len(bs) == 1 and bs[0][0] == "param" and not bs[0][2] and \
                        not (bs[0][3] == 0 and sc.self_value is not None):
                    through = self.pt_through.setdefault(sc.eid, [])
                    if x[1] not in through:
                        through.append(x[1])
                    continue
            rest.append(x)
        if len(rest) == len(items):
            return expr
        return None if not rest else rest[0] if len(rest) == 1 else ["o", rest]

    def call_expr(self, mod: _Module, scope: int, line: int, dotted: str) -> tuple:
        """The value expression of the call of `dotted` at `line`, with its arguments."""
        site = self.pt_site.get((mod.name, scope, line, dotted))
        return ("c", ("n", dotted)) + site if site is not None else ("c", ("n", dotted), (), ())

    def rewraps(self, name: str, b: tuple) -> bool:
        """`name = wrapper(name)` (or `name = make()(name)`): a decorator applied by hand, which
        calls of `name` go through to the same function, as with `@wrapper`."""
        _, bmod, scope, kind, rhs, _ann, line = b
        arg = ["n", name]
        if kind == "c":
            site = self.pt_site.get((bmod.name, scope, line, rhs))
            return site is not None and arg in site[0]
        if kind == "":
            return any(e[0] == "c" and len(e) > 2 and arg in e[2]
                       for e in self.pt_flows.get((bmod.name, scope, name, line), ()))
        return False

    def conditional(self, mod: _Module, s: int, bindings: list) -> bool:
        """Whether one of a module or class body's bindings lies in an `if` or `try` statement."""
        spans = self.pt_conds.get((mod.name, s))
        if not spans:
            return False
        for b in bindings:
            if b[0] != "param" and any(a <= b[-1] <= z for a, z in spans):
                return True
        return False

    def pt_release(self) -> None:
        """Drop the analysis's tables (millions of small objects on a large corpus)."""
        for name in ("pt_flows", "pt_stores", "pt_fors", "pt_rets", "pt_defaults", "pt_calls", "pt_through",
                     "pt_site", "pt_conds", "pt_cache", "param_in", "pt_names", "pt_subs"):
            table = getattr(self, name, None)
            if table is not None:
                table.clear()

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
        """Fill `param_in` from the call sites whose callee the name and type lookup resolves,
        from decorator applications, then (`link_points_to`) from those this analysis resolves.
        One round, not a fixpoint: a fixpoint costs a round per link in the longest chain."""
        linked: set[tuple] = set()
        for mod, scope, line, callee, args, kwargs in self.pt_calls:
            if (args or kwargs) and callee[0] == "n":
                try:
                    v, _label = self.callee(mod, scope, callee[1])
                    if v is not None and (v[0] == "fn" or v[0] == "cls"):
                        self.link_site((mod, scope, line, callee, args, kwargs), (v,), linked)
                except Exception as e:
                    self.failed(mod.file.path, line, "linking arguments", e)
        for sc_eid, deco_sites in self.decorator_sites():
            for mod, scope, v in deco_sites:
                self.link_value_arg(v, (mod, scope, [("fn-value", sc_eid)], [], 0, 0), linked)
        self.link_points_to(linked)

    def link_points_to(self, linked: set) -> None:
        """One more round: the arguments of the call sites this analysis resolves (within the
        bound), such as `self.resultclass(self.stream)` or `selector.select_from(self)`; the value
        sets read meanwhile are dropped, so none is kept from before the round."""
        callee, reach, pt, bound = self.callee, self.may_reach, self.pt, self.bound
        for site in self.pt_calls:
            mod, scope, line, e, args, kwargs = site
            if not (args or kwargs):
                continue
            try:
                if e[0] == "n":
                    v, _label = callee(mod, scope, e[1])
                    if v is not None:
                        continue  # linked above
                if not reach(e):
                    continue
                values = [v for v in pt(mod, scope, e) if v[0] == "fn" or v[0] == "cls"]
                if 0 < len(values) <= bound:
                    self.link_site(site, values, linked)
            except Exception as exc:
                self.failed(mod.file.path, line, "linking arguments (points-to)", exc)
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
                        try:
                            v, _ = self.expr(mod, sc.parent, text)
                        except Exception as e:
                            self.failed(mod.file.path, sc.row[3], "decorator", e)
                            continue
                        if v is not None and v[0] == "fn":
                            sites.append((mod, sc.parent, v))
                if sites:
                    yield sc.eid, sites

    def link_site(self, site: tuple, values, linked: set) -> None:
        mod, scope, line, callee, args, kwargs = site
        shift = None  # a method reached through an instance: its first parameter is the receiver
        if callee[0] == "n" and "." not in callee[1]:
            shift = "name"  # a plain name: a function, or a method bound or not (`link_value_arg`)
        elif callee[0] == "n":
            rv, _ = self.expr(mod, scope, callee[1].rpartition(".")[0])
            shift = 0 if rv is not None and rv[0] == "cls" else None
        for v in values:
            self.link_value_arg(v, (mod, scope, args, kwargs, shift, line), linked)

    def link_value_arg(self, v: tuple, entry: tuple, linked: set) -> None:
        mod, scope, args, kwargs, shift, line = entry
        if v[0] == "cls":
            init, _ = self.class_attr(v[1], "__init__", instance=True, skip_first=False, label="")
            if init is None or init[0] != "fn":
                return
            fn, shift = init[1], 1
        elif v[0] == "fn":
            fn = v[1]
            sc = self.fns.get(fn)
            if sc is None or sc.self_value is None:
                shift = 0
            elif "classmethod" in sc.row[5]:
                shift = 1  # bound to its class however it is reached
            elif shift is None:
                shift = 1
            elif shift == "name":
                # a def called in its own class body takes every argument; a method held in a
                # variable (`f = self.m; f(x)` or `f = C.m; f(obj, x)`) may be bound or not
                if scope != sc.parent:
                    return
                shift = 0
        else:
            return
        key = (fn, id(args), id(kwargs), shift)  # the argument lists of the facts: one per site
        if key in linked:
            return
        linked.add(key)
        self.param_in.setdefault(fn, []).append((mod, scope, args, kwargs, shift, line))

    # --- value sets --------------------------------------------------------------------------
    def pt(self, mod: _Module, scope: int, e) -> frozenset:
        """The value set of the value expression `e` (nested lists of the facts, or tuples) in a
        scope. Expressions of the facts are memoised by identity: they live as long as the facts."""
        if e[0] == "n":
            key = (mod.name, scope, e[1])
        elif type(e) is list:
            key = (mod.name, scope, id(e))
        else:
            key = (mod.name, scope, _key(e))
        hit = self.pt_cache.get(key)
        if hit is not None:
            return hit
        return self.compute(key, self._pt, mod, scope, e)

    def memo(self, key: tuple, compute, *args) -> frozenset:
        """`compute(*args)` memoised under `key`; a key met again while it is being computed
        (a cycle) gives the empty set there."""
        hit = self.pt_cache.get(key)
        if hit is not None:
            return hit
        return self.compute(key, compute, *args)

    def compute(self, key: tuple, compute, *args) -> frozenset:
        """`memo` for a key its caller has just missed in the cache (most value sets are empty,
        so callers test `is None`, not truth, and come here only on a real miss). While it is
        computed the key holds the empty set: a cycle back to it reads that."""
        cache = self.pt_cache
        cache[key] = _EMPTY
        try:
            out = compute(*args)
        except BaseException:
            del cache[key]
            raise
        if len(out) > 4 * self.bound:
            out = _EMPTY  # too vague to be of use anywhere
        elif type(out) is not frozenset:
            out = frozenset(out)
        cache[key] = out
        return out

    def _pt(self, mod: _Module, scope: int, e: tuple) -> frozenset:
        tag = e[0]
        if tag == "n":
            if "." not in e[1]:
                return self.pt_name(mod, scope, e[1])
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
            return self.pt_results(callees, (mod, scope, e[2], e[3]) if len(e) > 2 else None)
        if tag == "o":
            out: set = set()
            for x in e[1]:
                out |= self.pt(mod, scope, x)
            return frozenset(out)
        if tag == "l":
            if len(e) > 2:  # a dict with string literal keys: ("map", {(key, value)}), key None if unknown
                pairs = {(k, v) for x, k in zip(e[1], e[2], strict=False) for v in self.pt(mod, scope, x)}
                return frozenset({("map", frozenset(pairs))}) if pairs else _EMPTY
            items: set = set()
            for x in e[1]:
                items |= self.pt(mod, scope, x)
            return frozenset({("seq", frozenset(items))}) if items else _EMPTY
        if tag == "i":
            out = set()
            key = e[2] if len(e) > 2 else None
            for v in self.pt(mod, scope, e[1]):
                if v[0] == "seq":
                    out |= v[1]
                elif v[0] == "map":  # d["k"]: the values under "k" or under a key not known
                    out.update(x for k, x in v[1] if key is None or k is None or k == key)
                elif v[0] == "inst":  # what the class's `__getitem__` returns
                    out |= self.pt_results(self.pt_class_attr(v[1], "__getitem__", True, False), None)
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

    def pt_results(self, callees, site: tuple | None) -> frozenset:
        """What calling each value may return: instances of classes, returns of functions; a
        returned parameter gives the argument of this call `site` (module, scope, args, kwargs),
        nothing where the site is unknown."""
        out: set = set()
        for v in callees:
            if v[0] == "cls":
                out.add(("inst", v[1]))
            elif v[0] == "fn":
                out |= self.pt_returns(v[1])
                if site is not None and v[1] in self.pt_through:
                    out |= self.pt_through_site(v[1], site)
        return frozenset(out)

    def pt_through_site(self, fn: str, site: tuple) -> frozenset:
        """The returned parameters of `fn` at one call site. They are named by the defs that
        return them; one that the implementation (`self.fns`) has no parameter of (another def
        of the same name, under an `if`) takes no argument."""
        mod, scope, args, kwargs = site
        sc = self.fns.get(fn)
        if sc is None:
            return _EMPTY
        shift = 0 if sc.self_value is None else 1
        out: set = set()
        for name in self.pt_through[fn]:
            i = next((b[3] for b in sc.locals.get(name, ()) if b[0] == "param" and not b[2]), None)
            if i is None:
                continue
            pos = i - shift
            passed = False
            if 0 <= pos < len(args) and args[pos] is not None:
                out |= self.pt(mod, scope, args[pos])
                passed = True
            for k, expr in kwargs:
                if k == name:
                    out |= self.pt(mod, scope, expr)
                    passed = True
            if not passed and pos >= len(args):
                for dmod, dscope, expr in self.pt_defaults.get((fn, name), ()):
                    out |= self.pt(dmod, dscope, expr)
        return frozenset(out)

    def pt_returns(self, fn: str) -> frozenset:
        key = ("R", fn)
        hit = self.pt_cache.get(key)
        return hit if hit is not None else self.compute(key, self._pt_returns, fn)

    def _pt_returns(self, fn: str) -> set:
        out: set = set()
        for mod, scope, expr in self.pt_rets.get(fn, ()):
            out |= self.pt(mod, scope, expr)
        sc = self.fns.get(fn)
        if sc is not None and sc.row[7]:
            owner = self.modules[self.fn_module[fn]]
            cls = self.hint_class(owner, sc.parent, sc.row[7])
            if cls is not None:
                out.add(("inst", cls))
        return out

    def pt_name(self, mod: _Module, scope: int, name: str) -> frozenset:
        """A name looked up as `bindings._lookup` does (`local_bindings`), holding the union of its bindings."""
        found = local_bindings(mod, scope, name)
        if found is not None:
            return self.pt_bindings(mod, found[0], name, found[1])
        bindings = mod.ns.get(name)
        if bindings:
            return self.pt_bindings(mod, -1, name, bindings)
        v, _label = self.lookup(mod, scope, name)
        return frozenset({v}) if v is not None else _EMPTY

    def pt_bindings(self, mod: _Module, s: int, name: str, bindings: list) -> frozenset:
        key = ("B", mod.name, s, name)
        hit = self.pt_cache.get(key)
        return hit if hit is not None else self.compute(key, self._pt_bindings, mod, s, name, bindings)

    def _pt_bindings(self, mod: _Module, s: int, name: str, bindings: list) -> set:
        if self.conditional(mod, s, bindings):
            return self.pt_alternatives(mod, s, name, bindings)
        out: set = set()
        for b in bindings:
            out |= self.pt_binding(mod, s, name, b)
        return out

    def pt_alternatives(self, mod: _Module, s: int, name: str, bindings: list) -> set:
        """A module or class name bound in an `if`/`try` statement (platform branches, import
        fallbacks): only one binding holds on a given run, so the name keeps a value only when
        every binding gives that same one value; an unknown one (an external, a result nothing
        is known of, a name bound in branches only that an external `import *` may bind) leaves it
        unknown. A binding that wraps the name itself (`f = lru_cache()(f)`) is no alternative."""
        if s < 0 and self.external_star(mod) and all(self.conditional(mod, s, (b,)) for b in bindings):
            return set()  # bound on some runs only, and by `from os_specific import *` on others
        if len(bindings) == 1:  # bound or not, but no alternative: all it may hold
            return set(self.pt_binding(mod, s, name, bindings[0]))
        out: set = set()
        for b in bindings:
            if b[0] == "asg" and (b[3] == "N" or self.rewraps(name, b)):
                continue  # `x = None`: a placeholder; `f = lru_cache()(f)`: still f, wrapped
            values = self.pt_binding(mod, s, name, b)
            if len(values) != 1:
                return set()
            out |= values
            if len(out) > 1:
                return set()
        return out

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
                if "()." not in rhs:
                    out |= self.pt(bmod, scope, self.call_expr(bmod, scope, b[6], rhs))
                else:
                    inner, _, attr = rhs.rpartition("().")
                    out |= self.pt(bmod, scope, ("c", ("a", self.call_expr(bmod, scope, b[6], inner), attr)))
            elif kind == "n":
                out |= self.pt(bmod, scope, ("n", rhs))
            elif kind == "":
                for expr in self.pt_flows.get((bmod.name, scope, name, b[6]), ()):
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
            if sc.self_value[0] == "inst":  # self of this method: ("inst", class, method eid)
                return frozenset({sc.self_value + (sc.eid,)})
            return frozenset({sc.self_value})
        if ann:
            cls = self.hint_class(mod, sc.parent, ann)
            if cls is not None:
                out.add(("inst", cls))
        for dmod, dscope, expr in self.pt_defaults.get((sc.eid, name), ()):
            out |= self.pt(dmod, dscope, expr)
        out.discard(("fn", sc.eid))  # a default is evaluated before its own function exists
        for cmod, cscope, args, kwargs, shift, line in self.param_in.get(sc.eid, ()):
            pos = i - shift
            if 0 <= pos < len(args) and args[pos] is not None:
                out |= self.pt_argument(cmod, cscope, line, args[pos])
            for k, expr in kwargs:
                if k == name:
                    out |= self.pt_argument(cmod, cscope, line, expr)
        return frozenset(out)

    def pt_argument(self, mod: _Module, scope: int, line: int, e) -> frozenset:
        """An argument's value set. In `f = GzipFile(fileobj=f)` the argument `f` is the value
        from before that assignment: the assignment on the call's own line is left out."""
        if e[0] == "o":
            out: set = set()
            for x in e[1]:
                out |= self.pt_argument(mod, scope, line, x)
            return frozenset(out)
        if e[0] == "n" and "." not in e[1]:
            bindings = (mod.scopes[scope].locals if scope >= 0 else mod.ns).get(e[1])
            if bindings and any(b[0] == "asg" and b[6] == line for b in bindings):
                return self.memo(("A", mod.name, scope, line, e[1]), self._pt_before, mod, scope, line, e[1], bindings)
        return self.pt(mod, scope, e)

    def _pt_before(self, mod: _Module, scope: int, line: int, name: str, bindings: list) -> set:
        out: set = set()
        for b in bindings:
            if not (b[0] == "asg" and b[6] == line):
                out |= self.pt_binding(mod, scope, name, b)
        return out

    # --- attributes ------------------------------------------------------------------------------
    def pt_attrs(self, values, name: str) -> frozenset:
        if len(values) == 1:
            for v in values:
                return self.pt_attr(v, name)
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
        if tag == "inst" and len(v) > 2:
            return self.pt_class_attr(v[1], name, True, skip_first=False, via=v[2])
        if tag in ("cls", "inst"):
            return self.pt_class_attr(v[1], name, tag == "inst", skip_first=False)
        if tag == "sup":
            return self.pt_class_attr(v[1], name, True, skip_first=True)
        return _EMPTY

    def pt_class_attr(self, cls_eid: str, name: str, instance: bool, skip_first: bool,
                      via: str | None = None) -> frozenset:
        """`name` on a class or its instances: the first class of the MRO that binds it. `via`:
        the method whose `self` the instance is (`pt_subclass_attr`)."""
        key = ("CA", cls_eid, name, instance, skip_first, via)
        hit = self.pt_cache.get(key)
        return hit if hit is not None else self.compute(key, self._pt_class_attr, cls_eid, name, instance,
                                                        skip_first, True, via)

    def _pt_class_attr(self, cls_eid: str, name: str, instance: bool, skip_first: bool,
                       below: bool = True, via: str | None = None) -> frozenset:
        mro = self.mro(cls_eid)
        for i, entry in enumerate(mro):
            if i == 0 and skip_first:
                continue
            if not isinstance(entry, str):
                if entry[0] == "ext" and self.builtin_lacks(entry[1], name):
                    continue
                return _EMPTY
            cls = self.classes[entry]
            if instance and name in cls.attrs:
                return self.pt_bindings_of_class(cls, name)
            if name in cls.members:
                return self.pt_bindings(cls.mod, cls.scopes[0].idx, name, cls.members[name])
        if not below or skip_first or hasattr(object, name) or (not instance and hasattr(type, name)) or any(
                isinstance(e, str) and ("__getattr__" in self.classes[e].members or
                                        "__getattribute__" in self.classes[e].members) for e in mro):
            return _EMPTY
        return self.pt_subclass_attr(cls_eid, name, instance, via)

    def pt_subclass_attr(self, cls_eid: str, name: str, instance: bool, via: str | None) -> frozenset:
        """`self._flavour` in a method of a class that neither binds `_flavour` nor inherits it:
        an abstract member, which only the subclasses provide (a template method, a mixin's
        partner), so it is what the subclasses' lookups find. This is no dispatch to overrides:
        the class has nothing to override (nor has `object`: `Base.__init__` is no abstract member).
        For `self` in a method (`via`), a subclass that overrides that method runs its own: left out."""
        out: set = set()
        method = via.rpartition(".")[2] if via is not None else None
        for sub in self.descendants(cls_eid):
            if method is not None and self.overrides_below(sub, cls_eid, method):
                continue
            out |= self._pt_class_attr(sub, name, instance, False, below=False)
        return frozenset(out)

    def overrides_below(self, sub: str, cls_eid: str, method: str) -> bool:
        """Whether a class of `sub`'s MRO before `cls_eid` binds `method`."""
        for entry in self.mro(sub):
            if entry == cls_eid or not isinstance(entry, str):
                return False
            if method in self.classes[entry].members:
                return True
        return False

    def descendants(self, cls_eid: str) -> list[str]:
        """Every corpus class with `cls_eid` in its MRO (itself left out)."""
        subs = getattr(self, "pt_subs", None)
        if subs is None:
            subs = self.pt_subs = {}
            for eid, cls in self.classes.items():
                for base in self.class_bases(cls):
                    if base is not None and base[0][0] == "cls" and base[0][1] != eid:
                        subs.setdefault(base[0][1], []).append(eid)
        out: list[str] = []
        seen = {cls_eid}
        stack = [cls_eid]
        while stack:
            for sub in subs.get(stack.pop(), ()):
                if sub not in seen:
                    seen.add(sub)
                    out.append(sub)
                    stack.append(sub)
        return out

    def pt_bindings_of_class(self, cls, name: str) -> frozenset:
        """Instance attribute `self.name`: every assignment of it in the class's methods."""
        key = ("IA", cls.eid, name)
        hit = self.pt_cache.get(key)
        return hit if hit is not None else self.compute(key, self._pt_bindings_of_class, cls, name)

    def _pt_bindings_of_class(self, cls, name: str) -> set:
        out: set = set()
        for b in cls.attrs[name]:
            _, bmod, scope, kind, rhs, ann, line = b
            target = bmod.scopes[scope].row[6][0][0] + "." + name if scope >= 0 and bmod.scopes[scope].row[6] \
                else name
            if kind == "":
                for expr in self.pt_flows.get((bmod.name, scope, target, line), ()):
                    out |= self.pt(bmod, scope, expr)
            else:
                out |= self.pt_binding(bmod, scope, target, b)
        if name in cls.members:
            out |= self.pt_bindings(cls.mod, cls.scopes[0].idx, name, cls.members[name])
        return out

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
