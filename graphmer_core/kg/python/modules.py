"""Module names of corpus files, counted from the corpus's package roots.

A package root is a folder whose children are top-level modules and packages: the corpus root
itself, and `src/` in a src layout (a `src/` folder without `__init__.py` holding a package), so
that `src/flask/app.py` is the module `flask.app`, as `import flask.app` names it, not
`src.flask.app`. Files outside every root are named from the corpus root.
"""

from __future__ import annotations


def package_roots(paths: list[str]) -> list[str]:
    """Package roots of a corpus's posix paths, deepest first ("" is the corpus root)."""
    present = set(paths)
    roots = []
    if "src/__init__.py" not in present and any(
            p.startswith("src/") and p.count("/") == 2 and p.endswith("/__init__.py") for p in present):
        roots.append("src")
    return roots + [""]


def module_name(path: str, roots: list[str] | tuple[str, ...] = ("",)) -> tuple[str, bool]:
    """(`pkg.mod`, is_package) of a corpus-relative posix path, named from its package root."""
    for root in roots:
        if root and path.startswith(root + "/"):
            path = path[len(root) + 1:]
            break
    parts = path[:-3].split("/") if path.endswith(".py") else path.split("/")
    if parts[-1] == "__init__" and len(parts) > 1:
        return ".".join(parts[:-1]), True
    return ".".join(parts), False
