"""Module names of corpus files, counted from the corpus's package roots.

A package root is a folder whose children are top-level modules and packages, or a folder that holds
one named package (setuptools' `package-dir = {"pkg" = "lib"}`: `lib/x.py` is `pkg.x`). A corpus's
roots are those it declares (corpora.yaml `package_roots`, pyproject.toml, setup.cfg: read by
graphmer_core.corpus.layout), else detected: `src/` in a src layout (a `src/` folder without
`__init__.py` holding a package), so that `src/flask/app.py` is the module `flask.app`, as
`import flask.app` names it, not `src.flask.app`. Files outside every root are named from the corpus root.
"""

from __future__ import annotations

from collections.abc import Sequence

Root = tuple[str, str]  # (folder relative to the corpus root, package it holds; "" for top level)


def package_roots(paths: list[str], declared: Sequence[Root] | None = None) -> list[Root]:
    """Package roots of a corpus's posix paths, deepest first, ending with the corpus root."""
    if declared is not None:
        roots = sorted(set(declared), key=lambda r: (-len(r[0]), r))
        return roots if any(not folder for folder, _ in roots) else roots + [("", "")]
    present = set(paths)
    roots = []
    if "src/__init__.py" not in present and any(
            p.startswith("src/") and p.count("/") == 2 and p.endswith("/__init__.py") for p in present):
        roots.append(("src", ""))
    return roots + [("", "")]


def module_name(path: str, roots: Sequence[Root | str] = (("", ""),)) -> tuple[str, bool]:
    """(`pkg.mod`, is_package) of a corpus-relative posix path, named from the first root holding it."""
    package = ""
    for root in roots:
        folder, pkg = (root, "") if isinstance(root, str) else root
        if not folder or path.startswith(folder + "/"):
            path = path[len(folder) + 1:] if folder else path
            package = pkg
            break
    parts = path[:-3].split("/") if path.endswith(".py") else path.split("/")
    if package:
        parts = package.split(".") + parts
    if parts[-1] == "__init__" and len(parts) > 1:
        return ".".join(parts[:-1]), True
    return ".".join(parts), False
