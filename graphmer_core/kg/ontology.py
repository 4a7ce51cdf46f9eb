"""The software-engineering ontology, as data.

One definition read by extraction, validation, negative sampling and the model's regularizers.
This module is a leaf: it imports nothing of ours.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- entity kinds -------------------------------------------------------------------------------
PACKAGE, MODULE = "Package", "Module"
CLASS, INTERFACE, ENUM = "Class", "Interface", "Enum"
FUNCTION, METHOD, FIELD = "Function", "Method", "Field"
# Symbols outside the corpus (stdlib, third party, JDK modules not parsed) and names that could
# not be resolved at all. They have no path.
EXTERNAL_MODULE, EXTERNAL_CLASS = "ExternalModule", "ExternalClass"
EXTERNAL_FUNCTION, EXTERNAL_SYMBOL = "ExternalFunction", "ExternalSymbol"

INTERNAL_KINDS = (PACKAGE, MODULE, CLASS, INTERFACE, ENUM, FUNCTION, METHOD, FIELD)
EXTERNAL_KINDS = (EXTERNAL_MODULE, EXTERNAL_CLASS, EXTERNAL_FUNCTION, EXTERNAL_SYMBOL)
ENTITY_KINDS = INTERNAL_KINDS + EXTERNAL_KINDS

TYPES = frozenset({CLASS, INTERFACE, ENUM})
CALLABLES = frozenset({FUNCTION, METHOD})
CONTAINERS = frozenset({PACKAGE, MODULE, CLASS, INTERFACE, ENUM, FUNCTION, METHOD})
# Where code runs: module-level calls have the module (or package, for `__init__.py`) as head.
CODE_SCOPES = frozenset({PACKAGE, MODULE, CLASS, INTERFACE, ENUM, FUNCTION, METHOD})
EXT_TYPES = frozenset({EXTERNAL_CLASS, EXTERNAL_SYMBOL})
EXT_CALLABLES = frozenset({EXTERNAL_FUNCTION, EXTERNAL_CLASS, EXTERNAL_SYMBOL})
ANY_EXTERNAL = frozenset(EXTERNAL_KINDS)


@dataclass(frozen=True)
class Relation:
    """A relation with its domain and range kinds and its logical properties."""

    name: str
    domain: frozenset[str]
    range: frozenset[str]
    languages: frozenset[str] = frozenset({"python", "java"})
    antisymmetric: bool = False
    acyclic: bool = False
    tree: bool = False  # every tail has exactly one head (a forest)
    functional: bool = False  # every head has at most one tail
    hierarchy: bool = False  # an order relation the acyclicity regularizer acts on


PY, JAVA = frozenset({"python"}), frozenset({"java"})

RELATIONS: dict[str, Relation] = {
    r.name: r
    for r in [
        Relation("contains", CONTAINERS, frozenset(INTERNAL_KINDS),
                 antisymmetric=True, acyclic=True, tree=True),
        # Java has no module entity: a compilation unit's imports hang off its top-level types.
        Relation("imports", frozenset({MODULE, PACKAGE}) | TYPES, frozenset(INTERNAL_KINDS) | ANY_EXTERNAL),
        Relation("inherits_from", TYPES, TYPES | EXT_TYPES,
                 antisymmetric=True, acyclic=True, hierarchy=True),
        Relation("implements", frozenset({CLASS, ENUM}), frozenset({INTERFACE}) | EXT_TYPES,
                 languages=JAVA, antisymmetric=True, acyclic=True, hierarchy=True),
        Relation("calls", CODE_SCOPES, CALLABLES | EXT_CALLABLES),
        Relation("instantiates", CODE_SCOPES, frozenset({CLASS, ENUM}) | EXT_TYPES),
        Relation("overrides", frozenset({METHOD}), frozenset({METHOD, EXTERNAL_FUNCTION, EXTERNAL_SYMBOL}),
                 antisymmetric=True, acyclic=True, hierarchy=True),
        Relation("raises", CODE_SCOPES, TYPES | EXT_TYPES, languages=PY),
        Relation("throws", frozenset({METHOD}), TYPES | EXT_TYPES, languages=JAVA),
        Relation("catches", CODE_SCOPES, TYPES | EXT_TYPES),
        Relation("decorated_by", frozenset({CLASS, FUNCTION, METHOD}),
                 CALLABLES | TYPES | EXT_CALLABLES, languages=PY),
        Relation("annotated_with", TYPES | {METHOD, FIELD}, frozenset({INTERFACE}) | EXT_TYPES,
                 languages=JAVA),
        Relation("has_parameter_type", CALLABLES, TYPES | EXT_TYPES),
        Relation("returns_type", CALLABLES, TYPES | EXT_TYPES),
        Relation("has_field_type", frozenset({FIELD}), TYPES | EXT_TYPES),
    ]
}

RELATION_NAMES: tuple[str, ...] = tuple(RELATIONS)

# How a triple was resolved. `syntax` is structural (contains, declarations); `external` and
# `unresolved` tails are never internal entities.
RESOLUTIONS = (
    "syntax", "exact", "import", "self", "super", "inherited", "type_hint", "assigned",
    "local", "same_package", "overload", "unique_name", "external", "unresolved",
    # Python value flow (issue 13): a callee found by the points-to analysis; a decorator's
    # application (a call where the decorated def runs); an import of another corpus's module.
    "points_to", "decorator", "cross_corpus",
    # Java (issue 13): a method reference `T::m` / `T::new` naming a single method.
    "method_ref",
)


def hierarchy_relations() -> list[str]:
    return [r.name for r in RELATIONS.values() if r.hierarchy]


def allowed(relation: str, head_kind: str, tail_kind: str) -> bool:
    """Whether (head_kind) -relation-> (tail_kind) satisfies the relation's domain and range."""
    rel = RELATIONS.get(relation)
    return rel is not None and head_kind in rel.domain and tail_kind in rel.range
