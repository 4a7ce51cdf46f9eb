"""Random edits to real Java, each followed by an incremental build that must equal a cold build of
the same content, table for table, and after which resolving the same content again re-resolves
nothing: the differential check behind incremental resolution.

`tests/test_incremental.py` runs a few seeded rounds; for a long soak run it by hand:

    .venv/bin/python tests/incremental_fuzz.py --rounds 200 --seed 7 --work /tmp/fuzz

It exits 1 if any round failed, keeping both versions' tables under --work/diff<round>/.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

from graphmer_core.corpus.discovery import Corpus
from graphmer_core.corpus.index import index_corpora
from graphmer_core.kg import build
from graphmer_core.kg.build import build_kg
from graphmer_core.kg.incremental import ResolveCache
from graphmer_core.kg.resolution import resolve
from graphmer_core.lake import Lake
from graphmer_core.parsing.batch import parse_files

JDK_BASE = Path(__file__).resolve().parents[1] / "data_lake" / "corpora" / "jdk17" / "java.base"
# Simple names that real code already uses, so added and renamed declarations collide with it.
NAMES = ("Map", "List", "Entry", "Node", "Integer", "Iterator", "Object", "String", "Comparator", "Set",
         "Consumer", "Function", "Builder", "Key", "Thread", "State")
TYPES = ("long", "Object", "String", "int", "Map", "List", "Entry")
IMPORTS = ("java.awt.List", "java.util.concurrent.*", "java.util.Map.Entry", "java.lang.reflect.*",
           "java.util.function.Function", "static java.util.Objects.requireNonNull")
STATEMENTS = ("java.util.Objects.requireNonNull(this);", "size();", 'new ArrayList<String>().add("x");',
              "Map.Entry<String, String> e = null;")
SHADOWS = ("public class {n} {{ public int size() {{ return 0; }} }}",
           "public interface {n} {{ Object get(); static class Node {{}} }}",
           "public class {n} extends java.util.AbstractList<Object> {{ public Object get(int i) {{ return null; }} "
           "public int size() {{ return 0; }} }}")


def _rewrite(rng: random.Random, path: Path, pattern: str, make: Callable[[re.Match], str]) -> str | None:
    """Replace one match of `pattern` in `path`, chosen at random; what changed, or None."""
    text = path.read_text(errors="replace")
    matches = list(re.finditer(pattern, text, flags=re.M))
    if not matches:
        return None
    m = rng.choice(matches)
    new = make(m)
    path.write_text(text[:m.start()] + new + text[m.end():])
    return f"{m.group(0)[:50]!r} -> {new[:50]!r}"


def mutate(rng: random.Random, src: Path) -> str:
    """One random edit of one file under `src` (or a file added or deleted); says what it did."""
    path = rng.choice(sorted(src.rglob("*.java")))
    rel = path.relative_to(src)
    kind = rng.choice(("rename_method", "param_type", "return_type", "drop_import", "add_import", "delete",
                       "add_shadow", "extends", "nested", "body_call", "rename_class", "add_method"))
    if kind == "delete":
        path.unlink()
        return f"delete {rel}"
    if kind == "add_shadow":  # a type whose simple name other files of the package already use
        text = path.read_text(errors="replace")
        package = m.group(1) if (m := re.search(r"^package ([\w.]+);", text, flags=re.M)) else ""
        name = rng.choice(NAMES)
        (path.parent / f"{name}.java").write_text(f"package {package};\n\n{rng.choice(SHADOWS).format(n=name)}\n")
        return f"add {(path.parent / f'{name}.java').relative_to(src)}"
    edits = {
        "rename_method": (r"(public|protected|private|static)([^;=(]*?) (\w+)\(",
                          lambda m: f"{m.group(1)}{m.group(2)} {m.group(3)}X("),
        "param_type": (r"\((int|long|Object|String) (\w+)", lambda m: f"({rng.choice(TYPES)} {m.group(2)}"),
        "return_type": (r"public (int|long|Object|String|boolean|void) (\w+)\(",
                        lambda m: f"public {rng.choice(TYPES)} {m.group(2)}("),
        "drop_import": (r"^import [\w.*]+;\n", lambda m: ""),
        "add_import": (r"^package [\w.]+;\n", lambda m: f"{m.group(0)}import {rng.choice(IMPORTS)};\n"),
        "extends": (r"(class \w+(?:<[^>{]*>)?) extends ([\w.]+)",
                    lambda m: m.group(1) + rng.choice(("", " extends Object", " extends java.util.AbstractMap",
                                                       " extends Thread"))),
        "nested": (r"(class \w+[^{;]*\{)",
                   lambda m: f"{m.group(1)}\n    static class {rng.choice(NAMES)} {{ int size() {{ return 1; }} }}\n"),
        "body_call": (r"\) \{\n", lambda m: f"{m.group(0)}        {rng.choice(STATEMENTS)}\n"),
        "rename_class": (r"(class|interface) (\w+)", lambda m: f"{m.group(1)} {m.group(2)}Y"),
        "add_method": (r"(class \w+[^{;]*\{)",
                       lambda m: m.group(1) + rng.choice(("\n    public Iterator iterator() { return null; }\n",
                                                          "\n    public int size() { return 3; }\n",
                                                          "\n    public Entry get(Object k) { return null; }\n"))),
    }
    pattern, make = edits[kind]
    return f"{kind} {rel}: {_rewrite(rng, path, pattern, make) or 'no match'}"


def copy_parts(jdk_base: Path, parts: list[str], src: Path) -> None:
    for part in parts:
        (src / part).mkdir(parents=True)
        for f in (jdk_base / part).glob("*.java"):
            shutil.copy(f, src / part / f.name)


def same_violations(a: Path, b: Path) -> bool:
    """Two versions' validation tables hold the same rows (the order of rows that sort equal is the
    query's)."""
    def rows(kg_dir: Path) -> list:
        return sorted(map(repr, pq.read_table(kg_dir / "validation.parquet").to_pylist()))

    return rows(a) == rows(b)


def resolved_again(corpora: list[Corpus], lake: Lake) -> int:
    """The files a second resolution of the content just built re-resolves: none, unless what a
    file's reuse is decided on (its lookups, their values) depends on more than the content."""
    records = index_corpora(corpora, cache=build.index_cache(lake))
    parsed = parse_files(records, lake.parse_cache, 1).parsed
    roots = {name: layout.roots for name, layout in build.package_layouts(corpora).items()}
    # the same content as the current version: the rows file stays that version's
    with ResolveCache(build.resolve_cache(lake), lake.current_version()) as cache:
        resolve(parsed, roots, cache)
    cache.wait()
    return cache.stats.resolved


def rounds(src: Path, work: Path, n: int, seed: int, report: Callable[[str], None] = print,
           workers: int = 1) -> list[int]:
    """Build `src` cold, then n times: 1-3 random edits, an incremental build in the same lake and
    a cold build in a fresh one, compared, then the same content resolved again, which must
    re-resolve nothing. Returns the rounds that failed either check."""
    rng = random.Random(seed)
    corpora = [Corpus("jdk", src)]
    lake = Lake(work / "lake")
    build_kg(corpora, lake, workers=workers, gates=None)
    differed = []
    for r in range(n):
        edits = [mutate(rng, src) for _ in range(rng.randint(1, 3))]
        warm = build_kg(corpora, lake, workers=workers, gates=None)
        cold = build_kg(corpora, Lake(work / "cold"), workers=workers, gates=None)
        same = all(pq.read_table(warm.kg_dir / t).equals(pq.read_table(cold.kg_dir / t))
                   for t in ("entities.parquet", "triples.parquet")) and same_violations(warm.kg_dir, cold.kg_dir)
        again = resolved_again(corpora, lake)
        if not same or again:
            differed.append(r)
            for name, result in (("warm", warm), ("cold", cold)):
                shutil.copytree(result.kg_dir, work / f"diff{r}" / name)
        resolve = warm.manifest["resolve"]
        reach = ("content unchanged, version reused" if warm.reused else
                 f"re-resolved {resolve['resolved_files']} of {sum(g['files'] for g in resolve['groups'].values())}"
                 f", tables from {warm.manifest['tables_from']['mode']}")
        report(f"round {r}: {'same' if same else 'DIFFERENT'}, {reach}, again {again}: " + " | ".join(edits))
        shutil.rmtree(work / "cold")
    return differed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jdk-base", type=Path, default=JDK_BASE, help="java.base sources (`make corpora`)")
    ap.add_argument("--parts", default="java/util,java/lang,java/util/concurrent,java/util/function,java/io",
                    help="packages of java.base to copy, comma-separated")
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", type=Path, required=True, help="a scratch folder (emptied first)")
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    copy_parts(args.jdk_base, args.parts.split(","), args.work / "src")
    differed = rounds(args.work / "src", args.work, args.rounds, args.seed,
                      report=lambda line: print(line, flush=True), workers=args.workers)
    print(f"{len(differed)} of {args.rounds} rounds failed" + (f": {differed}" if differed else ""))
    sys.exit(1 if differed else 0)


if __name__ == "__main__":
    main()
