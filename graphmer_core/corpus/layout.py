"""The Python package roots a corpus declares, so module names match what `import` would name.

A package root is a folder whose children are top-level packages (`src` in a src layout), or a folder
mapped to a package (`package-dir = {"pkg" = "lib"}`: `lib/x.py` is `pkg.x`). They come from, first
match wins: `package_roots` of the corpus in configs/corpora.yaml; setuptools' `package-dir` and
`packages.find.where` in the corpus's pyproject.toml; `package_dir` and `packages.find` `where` in its
setup.cfg. With none declared, module naming (kg/python/modules.py) detects a src/ layout itself.

They are read here, beside the file index, because they change module names: kg/build.py puts them in
the KG version, so an unchanged-rebuild never serves names made under other roots. A malformed
pyproject.toml or setup.cfg is a warning recorded in the manifest, never a failed build.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from pathlib import Path

# (folder relative to the corpus root, "" for the root itself; package it holds, "" for top level)
Root = tuple[str, str]


@dataclass(frozen=True)
class PackageLayout:
    roots: tuple[Root, ...] | None  # None: nothing declared, naming detects a src/ layout
    source: str                     # corpora.yaml | pyproject.toml | setup.cfg | detected
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {"roots": None if self.roots is None else [list(r) for r in self.roots],
                "source": self.source, "warnings": list(self.warnings)}

    def key(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)


def check_folder(folder: str) -> str | None:
    """`folder` normalised (posix, relative, "" for the corpus root), or None if it leaves the corpus."""
    if not isinstance(folder, str) or folder.startswith(("/", "\\")) or (len(folder) > 1 and folder[1] == ":"):
        return None
    norm = posixpath.normpath(folder.replace("\\", "/")) if folder else "."
    if norm == ".." or norm.startswith("../"):
        return None
    return "" if norm == "." else norm


def package_layout(root: Path, configured: tuple[str, ...] | None = None) -> PackageLayout:
    """The corpus's declared package roots. `configured` (from corpora.yaml) must name folders
    inside `root`: anything else is a ValueError, since naming from it would be silently wrong."""
    root = Path(root)
    if configured is not None:
        roots = []
        for entry in configured:
            folder = check_folder(entry)
            where = root / folder if folder is not None else None
            if where is None or not where.resolve().is_relative_to(root.resolve()):
                raise ValueError(f"package_roots entry {entry!r} is outside the corpus root {root}")
            if not where.is_dir():
                raise ValueError(f"package_roots entry {entry!r} is not a folder under {root}")
            roots.append((folder, ""))
        return PackageLayout(tuple(dict.fromkeys(roots)), "corpora.yaml")
    warnings: list[str] = []
    for name, read in (("pyproject.toml", _pyproject_roots), ("setup.cfg", _setup_cfg_roots)):
        try:
            text = (root / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as exc:
            warnings.append(f"{name}: unreadable ({exc}); its package roots are ignored")
            continue
        try:
            declared = read(text, warnings)
        except Malformed as exc:
            warnings.append(f"{name}: malformed ({' '.join(str(exc).split())[:200]}); its package roots are ignored")
            continue
        if declared:
            return PackageLayout(tuple(dict.fromkeys(declared)), name, tuple(warnings))
    return PackageLayout(None, "detected", tuple(warnings))


class Malformed(ValueError):
    """A pyproject.toml or setup.cfg its parser rejects."""


def _root(folder, package, where: str, warnings: list[str]) -> Root | None:
    norm = check_folder(folder) if isinstance(package, str) else None
    if norm is None or not all(p.isidentifier() for p in package.split(".") if package):
        warnings.append(f"{where}: ignored {package!r} -> {folder!r} "
                        "(a folder inside the corpus and a dotted package name expected)")
        return None
    return norm, package


def _pyproject_roots(text: str, warnings: list[str]) -> list[Root]:
    """`[tool.setuptools] package-dir` and `[tool.setuptools.packages.find] where`."""
    import tomllib  # here: most corpora have no pyproject.toml, and an unchanged rebuild reads this

    try:
        tool = tomllib.loads(text).get("tool")
    except tomllib.TOMLDecodeError as exc:
        raise Malformed(exc) from exc
    setuptools = tool.get("setuptools") if isinstance(tool, dict) else None
    if not isinstance(setuptools, dict):
        return []
    roots = []
    package_dir = setuptools.get("package-dir", setuptools.get("package_dir"))
    if isinstance(package_dir, dict):
        roots += [_root(folder, pkg, "pyproject.toml package-dir", warnings) for pkg, folder in package_dir.items()]
    elif package_dir is not None:
        warnings.append(f"pyproject.toml: package-dir is not a table: {package_dir!r:.100}")
    packages = setuptools.get("packages")
    find = packages.get("find") if isinstance(packages, dict) else None
    where = find.get("where") if isinstance(find, dict) else None
    if isinstance(where, str):
        where = [where]
    if isinstance(where, list):
        roots += [_root(folder, "", "pyproject.toml packages.find.where", warnings) for folder in where]
    elif where is not None:
        warnings.append(f"pyproject.toml: packages.find.where is not a list: {where!r:.100}")
    return [r for r in roots if r is not None]


def _setup_cfg_roots(text: str, warnings: list[str]) -> list[Root]:
    """`[options] package_dir` (`=src`, or one `pkg = folder` a line) and `[options.packages.find] where`."""
    import configparser

    cfg = configparser.ConfigParser(interpolation=None)
    try:
        cfg.read_string(text)
    except configparser.Error as exc:
        raise Malformed(exc) from exc
    roots = []
    for line in cfg.get("options", "package_dir", fallback="").splitlines():
        if line.strip():
            pkg, sep, folder = line.partition("=")
            roots.append(_root(folder.strip(), pkg.strip(), "setup.cfg package_dir", warnings) if sep else
                         _root(None, "", f"setup.cfg package_dir line {line.strip()!r:.60}", warnings))
    for line in cfg.get("options.packages.find", "where", fallback="").splitlines():
        if line.strip():
            roots.append(_root(line.strip(), "", "setup.cfg packages.find where", warnings))
    return [r for r in roots if r is not None]
