"""docs/ builds without a warning, and its references say what the code has: every subcommand and
option of `graphmer`, every module of graphmer_core, every profile and corpora key, the asset graph
of the Definitions, every environment variable the code reads.

The Sphinx build needs the `docs` extra (`make test` installs it); without it those tests skip.
"""

from __future__ import annotations

import argparse
import html
import importlib
import importlib.util
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
DOCS_EXTRA = ("sphinx", "myst_parser", "sphinxarg")


def _missing_docs_extra() -> list[str]:
    return [m for m in DOCS_EXTRA if importlib.util.find_spec(m.split(".")[0]) is None
            or importlib.util.find_spec(m) is None]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """docs/ built to HTML in a temporary folder, warnings as errors; the HTML folder."""
    if missing := _missing_docs_extra():
        pytest.skip(f"the docs extra is not installed (no {', '.join(missing)}): pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("docs") / "html"
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           str(DOCS), str(out)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, f"sphinx-build failed (warnings are errors):\n{proc.stderr[-6000:]}"
    assert "WARNING" not in proc.stderr and "ERROR" not in proc.stderr, proc.stderr[-6000:]
    return out


def _text(page: Path) -> str:
    """A built page's visible text (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def test_docs_build_without_warnings(built):
    for page in ("index", "architecture", "cli", "configuration", "deployment", "security", "api/index"):
        assert (built / f"{page}.html").exists(), page


def test_cli_reference_lists_every_subcommand_and_option(built):
    from graphmer_core.cli import build_parser

    page = (built / "cli.html").read_text()
    text = _text(built / "cli.html")
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert len(sub.choices) >= 9
    for name, parser in sub.choices.items():
        # each subcommand is a section of its own, with its usage line
        assert re.search(rf'<section id="graphmer-{re.escape(name)}">\s*<span id="{re.escape(name)}"></span>'
                         rf'<h\d>{re.escape(name)}<', page), name
        assert f"graphmer {name}" in text, name
        for action in parser._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            for option in action.option_strings:
                assert option in text, f"{name} {option}"


def test_api_reference_has_every_module(built):
    import graphmer_core

    pages = "".join(p.read_text() for p in (built / "api").glob("*.html"))
    # a package whose __init__ is empty has nothing to show; its modules have their sections
    modules = [m.name for m in pkgutil.walk_packages(graphmer_core.__path__, "graphmer_core.")
               if not m.ispkg or importlib.import_module(m.name).__doc__]
    assert len(modules) > 50
    missing = [m for m in modules if f'id="module-{m}"' not in pages]
    assert not missing, f"modules without an API section: {missing}"
    # autodoc rendered the docstrings, not the directives as text
    assert "build_kg" in pages and ".. automodule::" not in pages


def _keys(model, prefix=""):
    """Dotted keys of a pydantic model, nested models flattened as the configuration page does."""
    for name, field in model.model_fields.items():
        tp = field.annotation
        args = getattr(tp, "__args__", ())
        inner = args[0] if getattr(tp, "__origin__", None) is list and args else None
        yield prefix + name
        if isinstance(tp, type) and hasattr(tp, "model_fields"):
            yield from _keys(tp, f"{prefix}{name}.")
        elif isinstance(inner, type) and hasattr(inner, "model_fields"):
            yield from _keys(inner, f"{prefix}{name}[].")


def test_configuration_reference_lists_every_key(built):
    import dataclasses

    from graphmer_core.corpus.config import CorpusSpec
    from graphmer_core.model.config import ModelConfig
    from graphmer_core.train.profiles import FROM_DATASET, SIZES, Profile

    text = _text(built / "configuration.html")
    cells = set(re.findall(r"<code[^>]*><span class=\"pre\">([^<]+)</span></code>",
                           (built / "configuration.html").read_text()))
    for key in _keys(Profile):
        assert key in cells, f"profile key {key}"
    for key in set(ModelConfig.model_fields) - set(FROM_DATASET):
        assert f"model.overrides.{key}" in cells, key
    for f in dataclasses.fields(CorpusSpec):
        assert f"corpora[].{f.name}" in cells, f.name
    for size in SIZES:
        assert size in text
    # the shipped files are shown as they are
    for name in ("cpu-tiny", "cpu-small", "gpu-8gb", "gpu-80gb"):
        assert f"{name}:" in text


def _mermaid(markdown: str) -> tuple[dict[str, str | None], set[tuple[str, str]]]:
    """(asset -> group, edges) of the first ```mermaid flowchart of a page, read by the parser the
    docs build draws it with."""
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        from flowchart import parse_flowchart
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    groups, edges, _ = parse_flowchart(re.search(r"```mermaid\n(.*?)```", markdown, re.S).group(1))
    return groups, set(edges)


def test_architecture_diagram_is_the_asset_graph():
    """The diagram's groups and arrows are those of the Definitions: no asset, group or dependency
    added, removed or moved without the architecture page following."""
    from graphmer_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    groups, edges = {}, set()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        groups[key.to_user_string()] = node.group_name
        edges |= {(p.to_user_string(), key.to_user_string()) for p in node.parent_keys}
    page = (DOCS / "architecture.md").read_text()
    shown_groups, shown_edges = _mermaid(page)
    assert shown_groups == groups
    assert shown_edges == edges
    checks = {k.name for k in graph.asset_check_keys}
    for check in checks:
        assert f"| `{check}` |" in page, f"check {check} is not in the architecture page's table"
    for job in defs.resolve_all_job_defs():
        if not job.name.startswith("__"):
            assert f"`{job.name}`" in page, f"job {job.name}"


def test_architecture_page_draws_the_graph(built):
    """The diagram is an SVG in the page itself (no script to fetch), with a box per asset."""
    from graphmer_pipeline.definitions import defs

    page = (built / "architecture.html").read_text()
    svg = re.search(r'<svg [^>]*class="graphmer-flowchart".*?</svg>', page, re.S)
    assert svg, "no flowchart SVG in architecture.html"
    labels = set(re.findall(r'text-anchor="middle">([^<]+)</text>', svg.group(0)))
    assert labels == {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert "<script" not in svg.group(0) and "cdn." not in page


def test_every_environment_variable_is_documented():
    read = set()
    for package in ("graphmer_core", "graphmer_pipeline"):
        for path in (REPO / package).rglob("*.py"):
            read |= set(re.findall(r"\b(GRAPHMER_[A-Z0-9_]+)\b", path.read_text()))
    documented = (DOCS / "cli.md").read_text()
    assert read, "no GRAPHMER_ variable found in the code"
    missing = sorted(v for v in read if f"`{v}`" not in documented)
    assert not missing, f"environment variables the code reads but docs/cli.md does not list: {missing}"
