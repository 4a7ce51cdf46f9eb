"""Directives that generate reference pages from the code, so the docs cannot drift from it.

- ``graphmer-modules PACKAGE``: one section with ``automodule`` per module of a package (found by
  walking it, so a new module gets its page without anyone editing docs/).
- ``mermaid`` (a ```mermaid fence): the flowchart subset docs/ uses, drawn as an inline SVG.
- ``graphmer-mapping-table NAME``: a module-level dict of dicts (the model sizes) as a table.
- ``graphmer-config-keys CLASS``: a table of every key a pydantic model (or dataclass) accepts,
  nested sections flattened to dotted keys, with type, default, bounds and the comment or
  docstring line the code gives the field.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
import typing

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

from flowchart import flowchart_svg

_FIELD_LINE = re.compile(r"^\s+(\w+)\s*:[^=#]*(?:=.*?)?(?:#\s*(.*))?$")
_COMMENT_LINE = re.compile(r"^\s+#\s?(.*)$")


def field_comments(cls: type) -> dict[str, str]:
    """{field: its comment}: the trailing comment on the field's line, else the comment lines
    directly above it. The code's comments are where this project explains a config key."""
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return {}
    out: dict[str, str] = {}
    above: list[str] = []
    for line in lines[1:]:
        if m := _COMMENT_LINE.match(line):
            above.append(m.group(1).strip())
            continue
        m = _FIELD_LINE.match(line)
        if m and not line.lstrip().startswith(("def ", "@", "return", "class ")):
            comment = (m.group(2) or "").strip() or " ".join(above)
            if comment:
                out.setdefault(m.group(1), comment)
        above = []
    return out


def _type_name(tp) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " | ".join(_type_name(a) for a in args)
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else _type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if tp is type(None):
        return "None"
    return getattr(tp, "__name__", str(tp))


def _bounds(metadata) -> str:
    symbols = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    parts = [f"{sym} {getattr(m, attr)}" for m in metadata for attr, sym in symbols.items()
             if getattr(m, attr, None) is not None]
    return ", ".join(parts)


def _is_model(tp) -> bool:
    return inspect.isclass(tp) and (hasattr(tp, "model_fields") or dataclasses.is_dataclass(tp))


def _fields(cls) -> list[tuple[str, object, object, str]]:
    """(name, annotation, default or '(required)', bounds) of a pydantic model or a dataclass."""
    if hasattr(cls, "model_fields"):
        from pydantic_core import PydanticUndefined

        out = []
        for name, f in cls.model_fields.items():
            if f.default is not PydanticUndefined:
                default = f.default
            elif f.default_factory is not None:
                default = f.default_factory()
            else:
                default = "(required)"
            out.append((name, f.annotation, default, _bounds(f.metadata)))
        return out
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else "(required)")
        out.append((f.name, hints[f.name], default, ""))
    return out


def config_rows(cls, prefix: str = "", skip: frozenset[str] = frozenset()) -> list[tuple[str, str, str, str, str]]:
    """(dotted key, type, default, bounds, what) for every key of `cls`, nested models flattened."""
    rows = []
    comments = field_comments(cls)
    for name, tp, default, bounds in _fields(cls):
        if name in skip:
            continue
        key = f"{prefix}{name}"
        nested = tp if _is_model(tp) else None
        list_of = typing.get_args(tp)[0] if typing.get_origin(tp) is list and typing.get_args(tp) else None
        what = comments.get(name, "")
        if nested is not None:
            doc = inspect.cleandoc(nested.__dict__.get("__doc__") or "").split("\n\n")[0].replace("\n", " ")
            rows.append((key, "section", "", "", what or doc))
            rows += config_rows(nested, key + ".")
        elif list_of is not None and _is_model(list_of):
            shown = [d.model_dump() if hasattr(d, "model_dump") else d for d in default]
            rows.append((key, f"list of {list_of.__name__}", repr(shown), "", what))
            rows += config_rows(list_of, key + "[].")
        else:
            shown = default if isinstance(default, str) and default == "(required)" else repr(default)
            rows.append((key, _type_name(tp), shown, bounds, what))
    return rows


def _table(rows, header, widths=None) -> nodes.table:
    table = nodes.table(classes=["graphmer-keys"] + (["colwidths-given"] if widths else []))
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in widths or [1] * len(header):
        group += nodes.colspec(colwidth=width)
    thead, tbody = nodes.thead(), nodes.tbody()
    group += thead
    group += tbody
    for target, cells in ((thead, header), *((tbody, r) for r in rows)):
        row = nodes.row()
        for i, text in enumerate(cells):
            entry = nodes.entry()
            entry += nodes.paragraph("", "", nodes.literal(text, text) if i == 0 and target is tbody and text
                                     else nodes.Text(text))
            row += entry
        target += row
    return table


def _import(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


class ConfigKeys(SphinxDirective):
    """``.. graphmer-config-keys:: module.Class`` with ``:prefix:`` and ``:skip: a,b``."""

    required_arguments = 1
    option_spec = {"prefix": directives.unchanged, "skip": directives.unchanged}

    def run(self):
        cls = _import(self.arguments[0])
        skip = self.options.get("skip", "")
        # `:skip:` names keys, or a module-level tuple of them (`module.NAME`) that the code keeps
        names = _import(skip.strip()) if "." in skip else skip.split(",")
        skip = frozenset(s.strip() for s in names if s.strip())
        rows = config_rows(cls, self.options.get("prefix", ""), skip)
        return [_table(rows, ("key", "type", "default", "bounds", "what"), widths=(26, 14, 11, 9, 40))]


class MappingTable(SphinxDirective):
    """``.. graphmer-mapping-table:: module.NAME``: a dict of dicts (name -> {key: value}) as a table."""

    required_arguments = 1
    option_spec = {"key": directives.unchanged}

    def run(self):
        mapping = _import(self.arguments[0])
        columns = list(dict.fromkeys(k for row in mapping.values() for k in row))
        rows = [(name, *(repr(row.get(c, "")) for c in columns)) for name, row in mapping.items()]
        return [_table(rows, (self.options.get("key", "name"), *columns))]


class Modules(SphinxDirective):
    """``.. graphmer-modules:: package`` (``:shallow:``: not its subpackages): an automodule section
    for the package and each module under it."""

    required_arguments = 1
    option_spec = {"shallow": directives.flag}

    def run(self):
        package = importlib.import_module(self.arguments[0])
        names = [package.__name__]
        if hasattr(package, "__path__"):
            found = pkgutil.walk_packages(package.__path__, package.__name__ + ".")
            if "shallow" in self.options:  # the package's own modules; its subpackages have their pages
                found = (m for m in pkgutil.iter_modules(package.__path__, package.__name__ + ".") if not m.ispkg)
            names += sorted(m.name for m in found)
        lines = []
        for name in names:
            module = importlib.import_module(name)
            if name == package.__name__ and not module.__doc__:
                continue
            # the pages are MyST Markdown (nested content is parsed by the page's parser); autodoc
            # writes reStructuredText, as the docstrings are
            lines += [f"## {name}", "", "```{eval-rst}", f".. automodule:: {name}", "```", ""]
        content = StringList(lines, source=self.get_source_info()[0])
        node = nodes.section()
        node.document = self.state.document
        nested_parse_with_titles(self.state, content, node)
        return node.children


class Flowchart(SphinxDirective):
    """```` ```mermaid ```` fences (a flowchart of subgraphs and arrows): an SVG drawn at build time in
    HTML, the source as a literal block elsewhere. A Git forge renders the same fence with Mermaid."""

    has_content = True
    optional_arguments = 1
    final_argument_whitespace = True

    def run(self):
        text = "\n".join(self.content)
        source = nodes.literal_block(text, text)
        try:
            svg = flowchart_svg(text)
        except (ValueError, KeyError) as exc:
            raise self.error(f"mermaid: {exc}") from None
        fallback = addnodes.only(expr="not html")
        fallback += source
        return [nodes.raw("", svg, format="html"), fallback]


def setup(app):
    app.add_directive("graphmer-config-keys", ConfigKeys)
    app.add_directive("graphmer-modules", Modules)
    app.add_directive("graphmer-mapping-table", MappingTable)
    app.add_directive("mermaid", Flowchart)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
