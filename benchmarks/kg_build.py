"""KG build throughput against tree-sitter's parse-only speed on the same files, in one run.

    .venv/bin/python benchmarks/kg_build.py                      # CPython stdlib
    .venv/bin/python benchmarks/kg_build.py --corpus jdk=data_lake/corpora/jdk17   # all of JDK 17
    .venv/bin/python benchmarks/kg_build.py --corpus NAME=PATH [--corpus ...] [--workers N]

Prints files/s, MB/s, triples/s and peak RSS of the end-to-end build (extraction, resolution,
Parquet, validation, catalogue) with a cold parse cache, and the same files parsed by tree-sitter
alone (one process and a pool of the same size) as ratios; the Great Expectations gates are timed
on their own. Each timing is the best of --repeat rounds (as timeit reports), since a shared
machine's noise only ever adds time; the median is printed beside it. A round runs both
parse-only timings and one build, so both sides of a ratio see the same moments of the machine.
Every cold build runs in a fresh process, as `graphmer build-kg` does, so lazy imports and
first-use costs are counted each time.
Then an unchanged rebuild and a one-file-changed rebuild (on a private copy of the corpus) as
fractions of the full build.

Last, what a user waits for: `graphmer build-kg` as whole processes from the shell, quality gates
included (interpreter start, imports, Great Expectations), cold (a fresh lake) and unchanged (the
same lake again), for the stdlib and the whole JDK 17 (data_lake/corpora/jdk17, if present), best
and median of --repeat, the unchanged build as a fraction of the cold one, and the gates' own
seconds as the CLI reports them (`gates_s`: what the build waited for them); then a copy of the
JDK's java.base cold and after a body edit and a signature edit of one file (incremental
resolution), as fractions of its cold build in wall and CPU seconds. `--shell-only` skips the
in-process figures; `--no-shell` skips these; `--edits-only` runs only the java.base edits, and
`--edits-in jdk` makes the same edits in a copy of the whole JDK (the edited file one of 15,000);
a second body edit follows the signature edit, as a rebuild that follows another rebuild.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from graphmer_core.corpus.config import load_corpora, parse_corpus_arg
from graphmer_core.corpus.discovery import Corpus
from graphmer_core.corpus.index import index_corpora
from graphmer_core.kg.build import build_kg
from graphmer_core.kg.quality import run_gates
from graphmer_core.lake import Lake
from graphmer_core.parsing.batch import default_workers

REPO = Path(__file__).resolve().parent.parent
_parsers = {}


def _parse_only(task: tuple[str, str]) -> int:
    path, language = task
    if language not in _parsers:
        import tree_sitter
        import tree_sitter_java
        import tree_sitter_python

        mod = tree_sitter_python if language == "python" else tree_sitter_java
        _parsers[language] = tree_sitter.Parser(tree_sitter.Language(mod.language()))
    with open(path, "rb") as fh:
        data = fh.read()
    _parsers[language].parse(data)
    return len(data)


def parse_only(tasks, workers: int) -> float:
    t = time.perf_counter()
    if workers == 1:
        for task in tasks:
            _parse_only(task)
    else:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_parse_only, tasks, chunksize=32))
    return time.perf_counter() - t


def peak_rss_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def child_build(lake_dir: str, corpora_json: str, workers: int) -> None:
    """One cold build in this (fresh) process; prints its figures as one JSON line."""
    corpora = [Corpus(c["name"], Path(c["root"]), tuple(c["exclude"]), c["max_bytes"])
               for c in json.loads(corpora_json)]
    t = time.perf_counter()
    result = build_kg(corpora, Lake(Path(lake_dir)), workers=workers, gates=None)
    seconds = time.perf_counter() - t
    print(json.dumps({"seconds": seconds, "kg_dir": str(result.kg_dir), "timings": result.timings,
                      "rss_mb": peak_rss_mb()}))


def cold_build(lake_dir: Path, corpora: list[Corpus], workers: int) -> dict:
    spec = json.dumps([{"name": c.name, "root": str(c.root), "exclude": list(c.exclude), "max_bytes": c.max_bytes}
                       for c in corpora])  # exclusions included: the stdlib's test folders stay out
    cmd = [sys.executable, __file__, "--child-build", str(lake_dir), "--corpora-json", spec, "--workers", str(workers)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", metavar="NAME=PATH")
    ap.add_argument("--workers", type=int, default=default_workers())
    ap.add_argument("--repeat", type=int, default=3, help="runs per timing; the best is reported")
    ap.add_argument("--no-rebuilds", action="store_true", help="skip the incremental rebuild figures")
    ap.add_argument("--no-shell", action="store_true", help="skip the whole-process `graphmer build-kg` figures")
    ap.add_argument("--shell-only", action="store_true", help="only the whole-process `graphmer build-kg` figures")
    ap.add_argument("--edits-only", action="store_true",
                    help="only the whole-process figures of one java.base file changed")
    ap.add_argument("--edits-in", choices=("java.base", "jdk"), default="java.base",
                    help="the corpus the edited file sits in: a copy of java.base (default) or of the whole JDK")
    ap.add_argument("--jdk", type=Path, default=REPO / "data_lake" / "corpora" / "jdk17",
                    help="the JDK sources for the whole-process figures (skipped if missing)")
    ap.add_argument("--child-build", metavar="LAKE", help=argparse.SUPPRESS)
    ap.add_argument("--corpora-json", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_build:
        return child_build(args.child_build, args.corpora_json, args.workers)
    if args.edits_only or not args.no_shell:
        bytecode()
    if args.edits_only:
        if not args.jdk.is_dir():
            sys.exit(f"kg_build.py: no JDK at {args.jdk} (`make corpora` fetches it; or pass --jdk PATH)")
        with tempfile.TemporaryDirectory(prefix="graphmer-bench-edits-") as tmp:
            return one_file_changed(args, Path(tmp))
    if not args.shell_only:
        in_process(args)
    if not args.no_shell:
        shell(args)


def bytecode() -> None:
    """graphmer_core compiled to bytecode, as an installed package has it (pip compiles a package it
    installs; an editable install writes the bytecode on first import), so that the timed processes
    do not compile it again each time where PYTHONDONTWRITEBYTECODE is set, as on our build machine."""
    import compileall

    compileall.compile_dir(REPO / "graphmer_core", quiet=1)
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("(PYTHONDONTWRITEBYTECODE is set: graphmer_core was compiled to bytecode first, as installed)")


def in_process(args) -> None:
    if args.corpus:
        corpora = [parse_corpus_arg(c) for c in args.corpus]
    else:
        corpora = [c for c in load_corpora() if c.name == "stdlib"]
    # Keep the corpora's exclusions (e.g. the stdlib's test folders) for the copy used below.
    records = [r for r in index_corpora(corpora) if r.status == "ok"]
    nbytes = sum(r.size_bytes for r in records)
    tasks = [(r.abspath, r.language) for r in records]
    print(f"corpora: {', '.join(f'{c.name}={c.root}' for c in corpora)}")
    print(f"files: {len(records):,} parseable, {nbytes / 1e6:.1f} MB; workers: {args.workers}; "
          f"cpus: {os.cpu_count()}; python {sysconfig.get_python_version()}")

    parse_only(tasks[:200], 1)  # warm the page cache and the grammar
    with tempfile.TemporaryDirectory(prefix="graphmer-bench-") as tmp:
        # Interleaved rounds, so both sides of each ratio see the same moments of a shared machine.
        parse1, parseN, builds = [], [], []  # builds: a fresh lake each, so an empty parse cache
        for i in range(args.repeat):
            parse1.append(parse_only(tasks, 1))
            parseN.append(parse_only(tasks, args.workers) if args.workers > 1 else parse1[-1])
            lake = Lake(Path(tmp) / f"cold-lake{i}")
            builds.append((cold_build(lake.root, corpora, args.workers), lake))
        t_parse1, med_parse1 = min(parse1), statistics.median(parse1)
        t_parseN, med_parseN = min(parseN), statistics.median(parseN)
        best, lake = min(builds, key=lambda b: b[0]["seconds"])
        t_full = best["seconds"]
        med_full = statistics.median(b[0]["seconds"] for b in builds)
        t = time.perf_counter()
        run_gates(Path(best["kg_dir"]))  # in this process: the GX import included, no overlap with a build
        t_gates = time.perf_counter() - t
        rss_self, rss_children = best["rss_mb"]
        m = json.loads((Path(best["kg_dir"]) / "manifest.json").read_text())
        print()
        print(f"best of {args.repeat} runs each (median in brackets)")
        print(f"{'':34}{'seconds':>9}{'(median)':>10}{'files/s':>10}{'MB/s':>8}{'triples/s':>12}")
        for label, secs, med in [("tree-sitter parse only, 1 proc", t_parse1, med_parse1),
                                 (f"tree-sitter parse only, {args.workers} procs", t_parseN, med_parseN),
                                 (f"end-to-end build, {args.workers} procs (cold)", t_full, med_full)]:
            trip = f"{m['triples'] / secs:>12,.0f}" if label.startswith("end") else f"{'':>12}"
            print(f"{label:34}{secs:>9.2f}{f'({med:.2f})':>10}{len(records) / secs:>10,.0f}"
                  f"{nbytes / 1e6 / secs:>8.2f}{trip}")
        print("  stages (s): " + "  ".join(f"{k}={v:.2f}" for k, v in best["timings"].items()))
        print(f"  KG: {m['entities']:,} entities, {m['triples']:,} triples")
        print(f"  + Great Expectations gates alone, GX import included (not in the build figures above): "
              f"{t_gates:.2f} s")
        print(f"  peak RSS: {rss_self:,.0f} MB (main), {rss_children:,.0f} MB (largest worker)")
        print(f"  build / parse-only throughput: {t_parse1 / t_full:.2f}x of 1 process, "
              f"{t_parseN / t_full:.2f}x of {args.workers} processes "
              f"(medians: {med_parse1 / med_full:.2f}x, {med_parseN / med_full:.2f}x)")

        if args.no_rebuilds:
            return
        # Incremental rebuilds on a private copy, so a file can be changed.
        copies = []
        for c in corpora:
            dest = Path(tmp) / "copy" / c.name
            shutil.copytree(c.root, dest, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "site-packages"))
            copies.append(Corpus(c.name, dest, c.exclude, c.max_bytes))
        lake2 = Lake(Path(tmp) / "rebuild-lake")
        shutil.copytree(lake.parse_cache, lake2.parse_cache)  # same bytes, same cache keys
        t = time.perf_counter()
        build_kg(copies, lake2, workers=args.workers, gates=None)
        t_copy_full = time.perf_counter() - t
        t = time.perf_counter()
        unchanged = build_kg(copies, lake2, workers=args.workers, gates=None)
        t_unchanged = time.perf_counter() - t
        victim = next(copies[0].root / r.path for r in records if r.corpus == copies[0].name)
        with open(victim, "a") as fh:
            fh.write("\n# touched by benchmarks/kg_build.py\n")
        t = time.perf_counter()
        changed = build_kg(copies, lake2, workers=args.workers, gates=None)
        t_changed = time.perf_counter() - t
        print()
        print(f"unchanged rebuild:   {t_unchanged:6.2f} s = {t_unchanged / t_full:6.1%} of the cold build "
              f"(reused={unchanged.reused}, reparsed {unchanged.reparsed})")
        print(f"one file changed:    {t_changed:6.2f} s = {t_changed / t_full:6.1%} of the cold build "
              f"(reparsed {changed.reparsed}, {changed.cache_hits:,} from cache; "
              f"stages: " + ", ".join(f"{k}={v:.2f}" for k, v in changed.timings.items()) + ")")
        print(f"(warm-cache build of the copy, a new version: {t_copy_full:.2f} s)")



# --- whole processes from the shell ------------------------------------------------------------


def shell_build(config: Path, lake: Path, workers: int) -> tuple[float, dict[str, float]]:
    """`graphmer build-kg` as a user runs it; returns wall seconds and the stage timings it printed,
    with `cpu_s`: the CPU seconds (user + sys) of the process and all it waited for (its pool)."""
    graphmer = Path(sys.executable).with_name("graphmer")
    cmd = [str(graphmer), "build-kg", "--config", str(config), "--lake", str(lake), "--workers", str(workers)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {out.returncode}:\n{out.stderr[-2000:]}")
    timings = {k: float(v) for k, v in re.findall(r"(\w+_s)=([0-9.]+)", out.stdout)}
    timings["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, timings


def shell(args) -> None:
    corpora = {"stdlib": "  - {name: stdlib, root: 'python:stdlib', exclude: ['.*', '__pycache__', "
                         "'site-packages', test, tests, idle_test, '*.egg-info']}"}
    if args.jdk.is_dir():
        corpora["jdk"] = f"  - {{name: jdk, root: '{args.jdk.resolve()}'}}"
        version = args.jdk / "DEBIAN_VERSION"  # what scripts/prepare_corpora.sh extracted
        print(f"\nJDK sources: {args.jdk} ({version.read_text().strip() if version.exists() else 'version unknown'})")
    else:
        print(f"\n(no JDK at {args.jdk}: `make corpora` fetches it; whole-process figures for the stdlib only)")
    print(f"\nwhole process from the shell (`graphmer build-kg`, gates included), best of {args.repeat} "
          f"(median in brackets), workers {args.workers}")
    print(f"{'':10}{'cold s':>14}{'unchanged s':>18}{'unchanged/cold':>16}{'gates_s cold':>16}{'gates_s unch.':>15}")
    with tempfile.TemporaryDirectory(prefix="graphmer-bench-shell-") as tmp:
        for name, entry in corpora.items():
            config = Path(tmp) / f"{name}.yaml"
            config.write_text(f"corpora:\n{entry}\n")
            cold, unchanged = [], []
            for i in range(args.repeat):  # interleaved, so both see the same moments of a shared machine
                lake = Path(tmp) / f"{name}-lake{i}"
                cold.append(shell_build(config, lake, args.workers))
                unchanged.append(shell_build(config, lake, args.workers))
                shutil.rmtree(lake)
            c = [s for s, _ in cold]
            u = [s for s, _ in unchanged]
            gc = min(t.get("gates_s", float("nan")) for _, t in cold)
            gu = min(t.get("gates_s", float("nan")) for _, t in unchanged)
            print(f"{name:10}{min(c):>7.2f}{f'({statistics.median(c):.2f})':>8}"
                  f"{min(u):>10.3f}{f'({statistics.median(u):.3f})':>9}"
                  f"{min(u) / min(c):>9.1%}{f'({statistics.median(u) / statistics.median(c):.1%})':>8}"
                  f"{gc:>16.2f}{gu:>15.2f}")
            best = min(cold, key=lambda x: x[0])[1]
            print("  best cold run's stages (s): " + "  ".join(f"{k}={v:.2f}" for k, v in best.items()))
        if args.jdk.is_dir():
            one_file_changed(args, Path(tmp))


# One java.base file changed, and how: (what is replaced, its replacement).
EDIT_FILE = "java/util/ArrayList.java"
EDITS = {
    "body edit": ("    public int size() {\n", "    public int size() {\n        int unused = 0;\n"),
    "signature edit": ("    public void trimToSize() {", "    public void trimToSize(int unused) {"),
    # the edit of a nightly rebuild that follows another rebuild: the gates' frames may equal the last
    # version's (the first edit's are compared with a cold build, which had no version to compare with)
    "body edit again": ("    public boolean isEmpty() {\n",
                        "    public boolean isEmpty() {\n        int unused = 0;\n"),
}


def one_file_changed(args, tmp: Path) -> None:
    """`graphmer build-kg` of a copy of java.base (or, with `--edits-in jdk`, of the whole JDK):
    cold (a fresh lake), then after a body edit and after a signature edit of one java.base file,
    as fractions of the cold build, wall and CPU seconds (the CPU ratio is the steadier one on a
    shared machine), with the files re-resolved."""
    whole = args.edits_in == "jdk"
    src = tmp / args.edits_in
    shutil.copytree(args.jdk if whole else args.jdk / "java.base", src)
    victim = src / ("java.base" if whole else "") / EDIT_FILE
    original = victim.read_text()
    config = tmp / f"{args.edits_in}.yaml"
    config.write_text(f"corpora:\n  - {{name: {args.edits_in.replace('.', '_')}, root: '{src}'}}\n")
    runs: dict[str, list[tuple[float, dict[str, float]]]] = {"cold": [], **{k: [] for k in EDITS}}
    resolved: dict[str, int] = {}
    tables: dict[str, str] = {}  # how the tables were made: patched from the previous version, or from rows
    gx: dict[str, str] = {}  # the expectations GX ran (the rest came from the gates' memo)
    for i in range(args.repeat):  # interleaved rounds, each from the original content in a fresh lake
        lake = tmp / f"{args.edits_in}-lake{i}"
        victim.write_text(original)
        runs["cold"].append(shell_build(config, lake, args.workers))
        text = original
        for name, (old, new) in EDITS.items():
            assert old in text, f"{EDIT_FILE} no longer has {old!r}: update EDITS"
            text = text.replace(old, new, 1)
            victim.write_text(text)
            runs[name].append(shell_build(config, lake, args.workers))
            manifest = json.loads((Lake(lake).current_dir() / "manifest.json").read_text())
            resolved[name] = manifest["resolve"]["resolved_files"]
            tables[name] = manifest["tables_from"]["mode"]
            ran = manifest["gates"]["gx_ran"]
            gx[name] = "all" if ran is None else str(ran)
        shutil.rmtree(lake)
    victim.write_text(original)
    cold_wall = min(s for s, _ in runs["cold"])
    cold_cpu = min(t["cpu_s"] for _, t in runs["cold"])
    print(f"\none java.base file changed ({EDIT_FILE}) in a copy of {'the whole JDK' if whole else 'java.base'}, "
          f"whole process, gates included, best of {args.repeat} (median in brackets)")
    print(f"{'':16}{'wall s':>16}{'of cold':>9}{'CPU s':>16}{'of cold':>9}{'re-resolved':>13}{'tables':>8}"
          f"{'GX ran':>8}")
    for name, rs in runs.items():
        wall = [s for s, _ in rs]
        cpu = [t["cpu_s"] for _, t in rs]
        files = "" if name == "cold" else f"{resolved[name]:>13,}{tables[name]:>8}{gx[name]:>8}"
        print(f"{name:16}{min(wall):>7.2f}{f'({statistics.median(wall):.2f})':>9}{min(wall) / cold_wall:>9.1%}"
              f"{min(cpu):>7.2f}{f'({statistics.median(cpu):.2f})':>9}{min(cpu) / cold_cpu:>9.1%}{files}")
        best = min(rs, key=lambda x: x[0])[1]
        print("  stages (s): " + "  ".join(f"{k}={v:.2f}" for k, v in best.items()))


if __name__ == "__main__":
    main()
