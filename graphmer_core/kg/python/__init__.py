"""Python resolution: syntax facts (graphmer_core.parsing.python) -> entities and triples, across files.

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

import traceback
from typing import Any

from graphmer_core.kg.python.bindings import Bindings, _Class, _Module, _Scope
from graphmer_core.kg.python.calls import Calls
from graphmer_core.kg.python.entities import LANG, Entities
from graphmer_core.kg.python.modules import module_name, package_roots
from graphmer_core.kg.python.points_to import DEFAULT_BOUND, PointsTo
from graphmer_core.kg.python.stack import with_deep_stack
from graphmer_core.kg.python.types import Types, annotation_names, receiver_annotation
from graphmer_core.kg.resolution import ParsedFile, Resolved
from graphmer_core.parsing.batch import paused_gc

__all__ = ["annotation_names", "module_name", "package_roots", "receiver_annotation", "resolve",
           "resolve_corpora"]


class Resolver(Entities, Bindings, Types, PointsTo, Calls):
    """One corpus's resolution state; the mixins hold the steps, in the order they run."""

    def __init__(self, corpus: str, files: list[ParsedFile], bound: int = DEFAULT_BOUND,
                 declared_roots: list[tuple[str, str]] | None = None):
        self.corpus = corpus
        self.declared_roots = declared_roots  # package roots the corpus declares (None: detect a src layout)
        self.bound = bound  # points-to: a call reaching more callables than this gets no edge
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
        self.errors: list[tuple[str, str, str]] = []  # (corpus, path, message): see `failed`

    def failed(self, path: str, line: int | None, step: str, exc: Exception) -> None:
        """Record an unexpected exception raised while resolving one file's or one call's facts:
        the build goes on without them, and says so (Resolved.errors -> the manifest's
        `resolver_errors`, the file's status `partial`). Out of memory is no such fault."""
        if isinstance(exc, MemoryError):
            raise exc
        last = traceback.extract_tb(exc.__traceback__, limit=-1)
        where = f" [{last[0].filename.rpartition('/')[2]}:{last[0].lineno} {last[0].name}]" if last else ""
        at = f" at line {line}" if line is not None else ""
        self.errors.append((self.corpus, path, f"{step}{at}: {type(exc).__name__}: {exc}{where}"))

    def release(self) -> None:
        Entities.release(self)
        self.pt_release()

def resolve(corpus: str, files: list[ParsedFile], bound: int = DEFAULT_BOUND,
            package_roots: dict[str, list[tuple[str, str]] | None] | None = None) -> Resolved:
    return resolve_corpora({corpus: files}, bound, package_roots)


def resolve_corpora(groups: dict[str, list[ParsedFile]], bound: int = DEFAULT_BOUND,
                    package_roots: dict[str, list[tuple[str, str]] | None] | None = None) -> Resolved:
    """Resolve the Python corpora of one build together: each on its own, then an external name
    that another corpus defines (`import flask` in an application built beside flask) becomes that
    corpus's entity, with resolution `cross_corpus`. `package_roots`: corpus -> the package roots
    it declares (graphmer_core.corpus.layout), for module naming. Runs with a deep stack
    (`stack`); an unexpected exception in one file's or one call's facts is in `Resolved.errors`."""
    return with_deep_stack(lambda: _resolve_corpora(groups, bound, package_roots))


def _resolve_corpora(groups: dict[str, list[ParsedFile]], bound: int,
                     package_roots: dict[str, list[tuple[str, str]] | None] | None) -> Resolved:
    resolvers = []
    # The facts of a large corpus are millions of small lists: with the cyclic GC on, its full
    # collections (triggered by our allocations, finding nothing) cost more than resolving itself.
    try:
        with paused_gc():
            for corpus, files in sorted(groups.items()):
                r = Resolver(corpus, [f for f in files if f.language == LANG], bound,
                             (package_roots or {}).get(corpus))
                resolvers.append(r)
                r.index()
                r.pt_index()
                r.link_arguments()
                r.emit()
            out = Resolved()
            if len(resolvers) > 1:
                link_corpora(resolvers)
            for r in resolvers:
                r.externals()
                out.extend(Resolved(entities=r.entities, triples=r.rows(), errors=r.errors))
                # before the collector is back: its first collection scans whatever is still alive
                r.release()
            return out
    finally:
        for r in resolvers:
            r.release()


def reexported(resolvers: list[Resolver], dotted: str) -> tuple[str, str] | None:
    """`pkg.Name` that a corpus's module `pkg` imports from elsewhere (`from pkg.core import Name`)."""
    base, _, name = dotted.rpartition(".")
    for r in resolvers:
        if base in r.modules:
            eid = r.symbol(base, name)
            if eid is not None and eid in r.kinds:
                return eid, r.kinds[eid]
    return None


def link_corpora(resolvers: list[Resolver]) -> None:
    """Point each corpus's external references at the entities other corpora define."""
    defined: dict[str, tuple[str, str]] = {}  # qualified name -> (entity id, kind), first corpus wins
    for r in resolvers:
        for eid, kind in r.kinds.items():
            qname = eid[len(r.prefix):]
            defined.setdefault(qname, (eid, kind))
    for r in resolvers:
        mapped = {}
        for dotted in list(r.ext):
            hit = defined.get(dotted) or reexported(resolvers, dotted)
            if hit is not None and not hit[0].startswith(r.prefix):
                mapped["py:ext:" + dotted] = hit
                del r.ext[dotted]
        if not mapped:
            continue
        for eid, kind in mapped.values():
            r.kinds[eid] = kind
        r.triples = [(h, rel, mapped[t][0], path, line, "cross_corpus") if t in mapped else
                     (h, rel, t, path, line, res) for h, rel, t, path, line, res in r.triples]
