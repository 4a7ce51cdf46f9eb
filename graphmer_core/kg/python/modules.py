"""Module names of corpus files."""

from __future__ import annotations


def module_name(path: str) -> tuple[str, bool]:
    """(`pkg.mod`, is_package) of a corpus-relative posix path."""
    parts = path[:-3].split("/") if path.endswith(".py") else path.split("/")
    if parts[-1] == "__init__" and len(parts) > 1:
        return ".".join(parts[:-1]), True
    return ".".join(parts), False
