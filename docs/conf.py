"""Sphinx configuration: `make docs` builds docs/ into build/docs/html with warnings as errors.

The API pages are autodoc over graphmer_core (its docstrings, read by napoleon), the CLI page is
sphinx-argparse over `graphmer_core.cli.build_parser`, and the configuration page is generated from
the pydantic models and the corpora config's key table, so none of them can drift from the code.
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))

project = "GraphMER-SE"
author = "GraphMER-SE"
extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinxarg.ext",
    "graphmer_docs",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "_ext"]
root_doc = "index"
# `--config` stays two hyphens in the CLI reference
smartquotes = False

# ```mermaid fences: drawn as SVG by graphmer_docs here (no script, works offline), by Mermaid on a Git forge
myst_fence_as_directive = ["mermaid"]
myst_heading_anchors = 3
# docstrings write `name` for code, as Markdown does
default_role = "literal"

# `ignore-module-all`: a package re-exporting names in __all__ would document them twice
# `model_config`: pydantic's settings dict, documented by pydantic's own docstring on every model
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True,
                           "ignore-module-all": True, "exclude-members": "model_config"}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "alabaster"
html_theme_options = {"description": "Source code -> knowledge graph -> GraphMER-style encoder",
                      "page_width": "1100px", "sidebar_width": "240px"}
html_static_path: list[str] = []
html_show_sourcelink = False
