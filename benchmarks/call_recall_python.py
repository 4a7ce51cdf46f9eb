"""Recall of the Python KG's call edges against calls observed at run time.

    .venv/bin/python benchmarks/call_recall_python.py                 # trace once (cached), then compare
    .venv/bin/python benchmarks/call_recall_python.py --baseline benchmarks/call_recall_python.before.json
    .venv/bin/python benchmarks/call_recall_python.py --save OUT.json --sample 100 --sample-resolution points_to

The stdlib's own tests (test.test_logging, test.test_httplib, test.test_xml_etree,
test.test_collections, test.test_pathlib, test.test_unittest) run under a `sys.setprofile` hook
(all threads) in a child process. A traced call counts when

- caller and callee are both defined in the library code of those packages (logging, http,
  xml.etree, collections, pathlib, unittest; their test folders left out), the callee a named
  def (no lambda or comprehension) and the caller representable in the KG (a package's own
  module-level code is not: the ontology has no `calls` from a Package);
- the caller's current instruction is an explicit CALL (a call expression or a decorator
  application) that invoked the callee itself, not through a C function in between
  (`sorted(key=f)`, `map(f, xs)`): properties, `with`, iteration, operators and generator
  resumptions run on other instructions and are left out;
- a dunder or generator callee is left out unless its own name is written at the site
  (`super().__init__()` counts; `Foo()` running `Foo.__init__` does not: `instantiates` says it);
- objects the tests hand in: a callee of another package than its caller whose name is not
  written at the site (`assertRaises(ValueError, logging.getLevelName)` running the function).

Caller and callee are named as the KG names them (`module.__qualname__` without `<locals>`;
code in lambdas and comprehensions belongs to the enclosing def). The KG is the stdlib corpus
of configs/corpora.yaml (test folders excluded), resolved in process. A traced pair is found when
the KG has `calls` or `instantiates` from the caller to the callee. Misses are put in categories
by the shape of the call site; `--baseline` prints an earlier `--save`d result beside this one.
The trace depends only on the interpreter's stdlib and is cached (`--trace`, `--retrace`).
"""

from __future__ import annotations

import argparse
import ast
import bisect
import json
import linecache
import os
import random
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

STDLIB = Path(sysconfig.get_paths()["stdlib"])
TESTS = ["test.test_logging", "test.test_httplib", "test.test_xml_etree", "test.test_collections",
         "test.test_pathlib", "test.test_unittest"]
PACKAGES = {"logging": "logging/", "http": "http/", "xml.etree": "xml/etree/", "collections": "collections/",
            "pathlib": "pathlib.py", "unittest": "unittest/"}
DEFAULT_TRACE = Path(tempfile.gettempdir()) / f"graphmer-call-trace-{sys.version_info[0]}{sys.version_info[1]}.json"
CALL_OPS = {"CALL", "CALL_FUNCTION_EX", "CALL_FUNCTION", "CALL_METHOD", "CALL_FUNCTION_KW"}
GEN_FLAGS = 0x20 | 0x80 | 0x200  # generator, coroutine, async generator


def package_of(path: str) -> str | None:
    """The package (of PACKAGES) a stdlib-relative path belongs to, tests left out."""
    if "/test/" in path or path.startswith("test/") or "/tests/" in path:
        return None
    for name, prefix in PACKAGES.items():
        if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
            return name
    return None


def module_of(path: str) -> tuple[str, bool]:
    parts = path[:-3].split("/")
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


# --- tracing (child process) -----------------------------------------------------------------------

def trace_child(out: str) -> None:
    import dis
    import threading
    import unittest

    root = str(STDLIB) + os.sep
    target: dict[str, str | None] = {}

    def rel(filename: str) -> str | None:
        hit = target.get(filename, 0)
        if hit == 0:
            hit = None
            if filename.startswith(root):
                r = filename[len(root):].replace(os.sep, "/")
                if package_of(r):
                    hit = r
            target[filename] = hit
        return hit

    seen: dict[tuple, int] = {}
    pending: set[int] = set()  # frames with a C function call in progress

    def prof(frame, event, arg):
        if event == "call":
            code = frame.f_code
            if rel(code.co_filename) is None:
                return
            back = frame.f_back
            if back is None or rel(back.f_code.co_filename) is None:
                return
            key = (back.f_code, back.f_lasti, code, id(back) in pending)
            seen[key] = seen.get(key, 0) + 1
        elif event == "c_call":
            if rel(frame.f_code.co_filename) is not None:
                pending.add(id(frame))
        elif event == "c_return" or event == "c_exception":
            pending.discard(id(frame))

    rearmed = [0]

    class Result(unittest.TextTestResult):
        """Re-arms the hook before each test: some tests install their own profile or trace hooks."""

        def startTest(self, test):
            if sys.getprofile() is not prof:
                rearmed[0] += 1
                sys.setprofile(prof)
            super().startTest(test)

    devnull = open(os.devnull, "w")
    t = time.perf_counter()
    threading.setprofile(prof)
    sys.setprofile(prof)
    try:
        unittest.main(module=None, argv=["trace", *TESTS], exit=False,
                      testRunner=unittest.TextTestRunner(stream=devnull, verbosity=0, resultclass=Result))
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    seconds = time.perf_counter() - t

    ops: dict = {}

    def instruction(code, lasti):
        """The instruction running at `lasti` (3.11 points into its inline caches) and its position."""
        table = ops.get(code)
        if table is None:
            instrs = list(dis.get_instructions(code))
            table = ops[code] = ([i.offset for i in instrs], [i.opname for i in instrs], list(code.co_positions()))
        offsets, names, positions = table
        i = bisect.bisect_right(offsets, lasti) - 1
        if i < 0:
            return "?", (None, None, None, None)
        k = offsets[i] // 2
        return names[i], positions[k] if k < len(positions) else (None, None, None, None)

    rows = []
    for (caller, lasti, callee, via_c), n in seen.items():
        op, (line, end_line, col, end_col) = instruction(caller, lasti)
        text = ""
        if line is not None and end_line is not None and col is not None and end_col is not None:
            lines = [linecache.getline(caller.co_filename, i) for i in range(line, end_line + 1)]
            if lines:
                lines[-1] = lines[-1][:end_col]
                lines[0] = lines[0][col:]
                text = "".join(lines)
        rows.append({
            "caller_path": rel(caller.co_filename), "caller_qualname": caller.co_qualname,
            "callee_path": rel(callee.co_filename), "callee_qualname": callee.co_qualname,
            "callee_generator": bool(callee.co_flags & GEN_FLAGS),
            "line": line, "op": op, "site": text, "via_c": via_c, "count": n,
        })
    Path(out).write_text(json.dumps({"python": sys.version, "seconds": seconds, "tests": TESTS,
                                     "rearmed": rearmed[0], "rows": rows}))


def run_trace(path: Path) -> dict:
    print(f"tracing {', '.join(TESTS)} (a few minutes) ...", flush=True)
    env = dict(os.environ, PYTHONHASHSEED="0")
    subprocess.run([sys.executable, __file__, "--trace-child", str(path)], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=3600)
    return json.loads(path.read_text())


# --- which traced calls count ---------------------------------------------------------------------

def kg_name(path: str, qualname: str) -> tuple[str, bool]:
    """(KG qualified name, is a package's module-level code) of a code object."""
    module, is_pkg = module_of(path)
    parts = [p for p in qualname.split(".") if p != "<locals>"]
    while parts and parts[-1].startswith("<"):
        parts.pop()  # lambdas and comprehensions run inside the enclosing def
    if not parts:
        return module, is_pkg
    return module + "." + ".".join(parts), False


def site_callee(site: str) -> tuple[str | None, str]:
    """(the name written for the callee, the call site's shape) of a call expression's text."""
    text = site.strip()
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        try:
            node = ast.parse("(" + text + ")", mode="eval").body
        except SyntaxError:
            return None, "unparsed"
    if not isinstance(node, ast.Call):  # a decorator application: `@deco` or `@a.b`
        f = node
        kind = "decorator"
    else:
        f = node.func
        kind = ""
    if isinstance(f, ast.Name):
        return f.id, kind or "name()"
    if isinstance(f, ast.Attribute):
        v = f.value
        if not kind:
            if isinstance(v, ast.Name) and v.id in ("self", "cls"):
                kind = "self.m()"
            elif isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "super":
                kind = "super().m()"
            elif isinstance(v, ast.Call):
                kind = "call().m()"
            elif isinstance(v, ast.Attribute):
                kind = "a.b.m()" if not (isinstance(v.value, ast.Name) and v.value.id in ("self", "cls")) \
                    else "self.attr.m()"
            elif isinstance(v, ast.Name):
                kind = "name.m()"
            else:
                kind = "expr.m()"
        return f.attr, kind
    if isinstance(f, ast.Call):
        return None, kind or "call()()"
    if isinstance(f, ast.Subscript):
        return None, kind or "x[k]()"
    return None, kind or "other"


def expected_pairs(trace: dict) -> dict[tuple[str, str], dict]:
    """(caller, callee) KG qualified names -> one example row, for the calls that count."""
    out: dict[tuple[str, str], dict] = {}
    for row in trace["rows"]:
        if row["op"] not in CALL_OPS or row["via_c"]:
            continue
        callee_leaf = row["callee_qualname"].rsplit(".", 1)[-1]
        if callee_leaf.startswith("<"):
            continue
        caller, caller_is_pkg = kg_name(row["caller_path"], row["caller_qualname"])
        if caller_is_pkg:
            continue
        callee, _ = kg_name(row["callee_path"], row["callee_qualname"])
        written, shape = site_callee(row["site"])
        named = written == callee_leaf
        if (callee_leaf.startswith("__") and callee_leaf.endswith("__")) or row["callee_generator"]:
            if not named:
                continue
        if package_of(row["caller_path"]) != package_of(row["callee_path"]) and not named:
            continue  # an object the tests handed in
        key = (caller, callee)
        if key not in out:
            out[key] = dict(row, shape=shape, named=named, caller=caller, callee=callee,
                            package=package_of(row["caller_path"]))
    return out


# --- the KG ---------------------------------------------------------------------------------------

def build_kg(cache_dir: Path) -> tuple[list[tuple], list[tuple], float]:
    from graphmer_core.corpus.config import load_corpora
    from graphmer_core.corpus.index import index_corpora
    from graphmer_core.kg.resolution import resolve
    from graphmer_core.parsing.batch import parse_files

    corpora = [c for c in load_corpora() if c.name == "stdlib"]
    records = [r for r in index_corpora(corpora) if r.status == "ok"]
    outcome = parse_files(records, cache_dir)
    t = time.perf_counter()
    resolved = resolve(outcome.parsed)
    return resolved.triples, resolved.entities, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trace", type=Path, default=DEFAULT_TRACE, help="trace cache (JSON)")
    ap.add_argument("--retrace", action="store_true", help="run the tests again even if the trace exists")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "graphmer-recall-parse-cache")
    ap.add_argument("--baseline", type=Path, help="a --save'd result to print beside this one")
    ap.add_argument("--save", type=Path, help="write this result (figures and found pairs) as JSON")
    ap.add_argument("--misses", type=int, default=0, help="print N missed pairs per category")
    ap.add_argument("--sample", type=int, default=0, help="print N KG call edges for a hand check")
    ap.add_argument("--sample-resolution", action="append", default=[],
                    help="only edges with these resolution values (repeatable)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--trace-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.trace_child:
        return trace_child(args.trace_child)

    trace = json.loads(args.trace.read_text()) if args.trace.exists() and not args.retrace else run_trace(args.trace)
    expected = expected_pairs(trace)
    triples, entities, resolve_s = build_kg(args.cache)
    prefix = "py:stdlib:"
    edges: dict[tuple[str, str], str] = {}
    for head, rel, tail, _lang, _corpus, _path, _line, resolution in triples:
        if rel in ("calls", "instantiates") and head.startswith(prefix) and tail.startswith(prefix):
            edges.setdefault((head[len(prefix):], tail[len(prefix):]), resolution)

    per_pkg: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_shape: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_resolution: Counter = Counter()
    missed: dict[str, list[dict]] = defaultdict(list)
    found_pairs = []
    for key, row in sorted(expected.items()):
        hit = key in edges
        for table, k in ((per_pkg, row["package"]), (per_shape, row["shape"])):
            table[k][0] += hit
            table[k][1] += 1
        if hit:
            by_resolution[edges[key]] += 1
            found_pairs.append(list(key))
        else:
            missed[row["shape"]].append(row)
    total_hit = sum(v[0] for v in per_pkg.values())
    result = {
        "python": sys.version.split()[0], "traced_rows": len(trace["rows"]), "pairs": len(expected),
        "found": total_hit, "recall": total_hit / max(1, len(expected)),
        "packages": {k: v for k, v in sorted(per_pkg.items())},
        "shapes": {k: v for k, v in sorted(per_shape.items())},
        "found_by_resolution": dict(by_resolution.most_common()),
        "kg_call_edges": len(edges), "resolve_s": round(resolve_s, 2), "found_pairs": found_pairs,
    }
    base = json.loads(args.baseline.read_text()) if args.baseline else None

    def fmt(hit_total, ref=None) -> str:
        hit, total = hit_total
        s = f"{hit:>6,}/{total:<6,} {hit / max(1, total):6.3f}"
        if ref is not None:
            s = f"{ref[0] / max(1, ref[1]):6.3f}  ->  " + s
        return s

    print(f"python {result['python']}; {len(trace['rows']):,} traced (site, callee) rows; "
          f"{len(expected):,} explicit caller->callee pairs; KG: {len(edges):,} internal call edges "
          f"(resolved in {resolve_s:.1f} s)")
    head = "before  ->  " if base else ""
    print(f"\nrecall per package (by the caller's package)   {head}found/pairs recall")
    for k, v in sorted(per_pkg.items()):
        print(f"  {k:<44}{fmt(v, base['packages'].get(k) if base else None)}")
    print(f"  {'ALL':<44}{fmt((total_hit, len(expected)), (base['found'], base['pairs']) if base else None)}")
    print(f"\nrecall per call-site shape (misses by category) {head}found/pairs recall")
    for k, v in sorted(per_shape.items(), key=lambda kv: -kv[1][1]):
        print(f"  {k:<44}{fmt(v, base['shapes'].get(k) if base else None)}")
    print("\nfound pairs by the KG edge's resolution: "
          + ", ".join(f"{k}={v}" for k, v in by_resolution.most_common()))
    if base:
        gone = {tuple(p) for p in base["found_pairs"]} - {tuple(p) for p in found_pairs}
        print(f"pairs found before and not now: {len(gone)}" + "".join(f"\n  {a} -> {b}" for a, b in sorted(gone)[:20]))
    if args.misses:
        for shape, rows in sorted(missed.items(), key=lambda kv: -len(kv[1])):
            print(f"\n--- missed, {shape} ({len(rows)})")
            for row in rows[:args.misses]:
                where = f"{row['caller_path']}:{row['line']}"
                print(f"  {row['caller']} -> {row['callee']}   [{where}] {row['site'][:90]!r}")
    if args.sample:
        sample_edges(triples, entities, args.sample, args.sample_resolution, args.seed, result)
    if args.save:
        args.save.write_text(json.dumps(result, indent=1))


def sample_edges(triples, entities, n, resolutions, seed, result) -> None:
    """A seeded sample of KG calls/instantiates edges with their evidence line and the first line
    of the target's definition, for a hand check."""
    where = {e[0]: (e[6], e[7]) for e in entities if e[6]}  # entity_id -> (path, start_line)
    cands = sorted({(h, r, t, path, line, res) for h, r, t, _l, _c, path, line, res in triples
                    if r in ("calls", "instantiates") and (not resolutions or res in resolutions)})
    picked = random.Random(seed).sample(cands, min(n, len(cands)))
    print(f"\n--- {len(picked)} of {len(cands):,} edges with resolution in {resolutions or 'any'}")
    for i, (h, r, t, path, line, res) in enumerate(picked, 1):
        src = linecache.getline(str(STDLIB / path), line).strip() if path and line else ""
        tpath, tline = where.get(t, (None, None))
        target = linecache.getline(str(STDLIB / tpath), tline).strip() if tpath and tline else ""
        print(f"{i:3}. [{res}] {h} -{r}-> {t}\n     {path}:{line}: {src[:120]}"
              f"\n     -> {tpath}:{tline}: {target[:100]}")
    result["sample"] = [list(p) for p in picked]


if __name__ == "__main__":
    main()
