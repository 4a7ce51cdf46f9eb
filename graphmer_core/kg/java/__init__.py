"""Java syntax facts (graphmer_core.parsing.java) of one corpus -> entities and triples.

Naming

- ``qualified_name``: ``package.Outer.Inner``, ``package.Class.method``, constructors
  ``package.Class.<init>``, fields and enum constants ``package.Class.NAME``. Local classes are
  named as members of their enclosing type.
- ``entity_id``: ``java:<corpus>:<qualified_name>``; methods and constructors append their
  parameter types as written, generic arguments stripped, varargs ``T...`` as ``T[]``, e.g.
  ``java:jdk:java.util.ArrayList.add(int,E)``. A field named like a member type of its class (legal
  in Java) gets ``#field`` appended to its id. Packages are ``java:<corpus>:<package>`` (the
  unnamed package is ``""``).
- externals: ``java:ext:<fully.qualified.Name>`` (ExternalClass), methods of external types
  ``java:ext:java.util.List.add`` (ExternalFunction), on-demand imports of packages outside the
  corpus and static-imported external members ``java:ext:a.b`` (ExternalSymbol). A simple type name
  that cannot be placed (not imported, ambiguous between several on-demand imports, ...) becomes
  ``java:ext:?.<Name>`` (ExternalSymbol, resolution "unresolved"); it is never guessed into an
  internal type.

The modules, in the order a reader needs them: ``model`` (declarations and language constants),
``types`` (type names and the hierarchy), ``members`` (which method a call reaches), ``calls``
(receivers and call sites), ``emit`` (entities and triples of each file).
"""

from __future__ import annotations

import gc

from graphmer_core.kg.java.emit import Resolver
from graphmer_core.kg.java.model import LANG
from graphmer_core.kg.resolution import ParsedFile, Resolved

__all__ = ["resolve"]


def resolve(corpus: str, files: list[ParsedFile]) -> Resolved:
    """Entities and triples of the Java files of one corpus."""
    # The resolver allocates millions of tuples and no garbage cycles (release() breaks its own):
    # the cyclic collector would only rescan the growing heap, so it is paused meanwhile.
    paused = gc.isenabled()
    gc.disable()
    try:
        r = Resolver(corpus, [f for f in files if f.language == LANG])
        try:
            return r.run()
        finally:
            r.release()
    finally:
        if paused:
            gc.enable()
