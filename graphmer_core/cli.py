"""`graphmer`: build and query the KG from the shell. Imports neither torch nor dagster for these."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from graphmer_core.errors import GraphmerError
from graphmer_core.lake import Lake

PROJECT_LAKE = Path(__file__).resolve().parent.parent / "data_lake"
LAKE_HELP = ("the data lake (default: $GRAPHMER_LAKE, else ./data_lake if the current folder has one, "
             "else the project's)")


def resolve_lake(given: Path | None) -> tuple[Path, str]:
    """The lake a command uses and where that choice came from, for the summary to say."""
    if given is not None:
        return given, "--lake"
    if os.environ.get("GRAPHMER_LAKE"):
        return Path(os.environ["GRAPHMER_LAKE"]), "$GRAPHMER_LAKE"
    if Path("data_lake").is_dir():
        return Path("data_lake").resolve(), "./data_lake of the current folder"
    return PROJECT_LAKE, "the project's data_lake"


def check_writable(root: Path) -> None:
    """Fail before any work, with one line, when the lake cannot be written (a read-only mount, no
    permission, a path under a regular file)."""
    import tempfile

    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".graphmer-write-check-"):
            pass
    except OSError as exc:
        raise GraphmerError(f"data lake {root} is not writable ({exc.strerror or exc}: {exc.filename or root}); "
                            "pass --lake PATH or set GRAPHMER_LAKE to a folder this user can write") from None


def _progress_bar():
    bars: dict = {}

    def update(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            if done >= total:  # done at its first report (a rebuild parsing one file): nothing to show
                return
            from tqdm import tqdm  # imported on first progress: an unchanged rebuild shows none

            bar = bars[stage] = tqdm(total=total, desc=stage, unit="file", file=sys.stderr,
                                     disable=None, leave=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def format_summary(manifest: dict, lake: Lake, extra: dict | None = None, lake_source: str | None = None) -> str:
    files = manifest["files"]
    lines = [
        f"KG version {manifest['kg_version']}  ({', '.join(c['name'] for c in manifest['corpora'])})",
        f"  files: {files['seen']} seen, " + ", ".join(f"{n} {s}" for s, n in files["by_status"].items())
        + f", {files['bytes'] / 1e6:.1f} MB parsed",
        f"  entities: {manifest['entities']:,}  " + "  ".join(
            f"{k}={n:,}" for k, n in manifest["entities_by_kind"].items()),
        f"  triples:  {manifest['triples']:,}",
    ]
    for rel, n in sorted(manifest["triples_by_relation"].items(), key=lambda kv: -kv[1]):
        lines.append(f"    {rel:<20} {n:>9,}")
    lines.append("  resolution: " + "  ".join(
        f"{k}={n:,}" for k, n in sorted(manifest["triples_by_resolution"].items(), key=lambda kv: -kv[1])))
    for c in manifest["corpora"]:  # a malformed pyproject.toml / setup.cfg: named from detected roots
        lines += [f"  warning: {c['name']}: {w}" for w in c.get("package_roots", {}).get("warnings", ())]
    for problem in files["not_ok"][:5]:
        lines.append(f"  {problem['status']}: {problem['corpus']}:{problem['path']}: {problem['reason']}")
    if len(files["not_ok"]) > 5:
        lines.append(f"  ... {len(files['not_ok']) - 5} more in manifest.json and the `files` view")
    if manifest.get("changes"):
        ch = manifest["changes"]
        lines.append(f"  since {ch['previous_kg_version']}: +{ch['added']:,} / -{ch['removed']:,} triples")
    for key, value in (extra or {}).items():
        lines.append(f"  {key}: {value}")
    if lake_source:
        lines.append(f"  lake:      {lake.root}  (from {lake_source})")
    lines += [
        f"  KG files:  {lake.kg_dir(manifest['kg_version'])}",
        f"  catalogue: {lake.catalog}  (graphmer query --lake {lake.root} \"SELECT ...\")",
    ]
    return "\n".join(lines)


GATE_FLAGS = {  # GateThresholds field -> help
    "min_entities_per_file": "entities (with a path) per parsed file, per language",
    "max_entities_per_file": "entities per parsed file, per language",
    "min_triples_per_entity": "triples per entity, per language",
    "max_triples_per_entity": "triples per entity, per language",
    "domain_range_valid_share": "share of triples inside their relation's domain and range, per language",
    "max_inheritance_cycles": "inheritance cycles per language",
    "max_relation_drop": "share of a relation's triples a corpus may lose against the previous version "
                         "beyond the share of files it lost",
    "relation_drop_min_triples": "relations with fewer triples in the previous version are not compared",
}


def cmd_build_kg(args) -> int:
    from graphmer_core.corpus.config import load_corpora, parse_corpus_arg
    from graphmer_core.kg.build import build_kg
    from graphmer_core.kg.manifest import resolve_summary
    from graphmer_core.kg.quality import DEFAULT_GATES, GateFailed

    lake = Lake(args.lake)
    corpora = ([parse_corpus_arg(c) for c in args.corpus] if args.corpus
               else load_corpora(args.config, only_existing=True))
    gates = DEFAULT_GATES.replace(**{key: getattr(args, key) for key in GATE_FLAGS})
    try:
        result = build_kg(corpora, lake, workers=args.workers, progress=_progress_bar(), gates=gates,
                          regate=args.regate)
    except GateFailed as exc:
        print(f"graphmer: {exc}", file=sys.stderr)
        print(f"graphmer: the current KG is still {lake.current_version() or '(none)'}", file=sys.stderr)
        return 3
    timing = "  ".join(f"{k}={v:.2f}" for k, v in result.timings.items())
    verdict = result.verdict
    extra = {"this run": ("unchanged corpus: existing version reused" if result.reused else
                          f"reparsed {result.reparsed} file(s), {result.cache_hits} from cache; "
                          f"{resolve_summary(result.manifest['resolve'])}"),
             "gates": gates_line(verdict),
             "timings (s)": timing}
    print(format_summary(result.manifest, lake, extra, args.lake_source))
    return 0


def gates_line(verdict) -> str:
    if verdict.reused:
        return "passed (recorded verdict of " + verdict.checked_at + " reused; --regate reruns them)"
    total = sum(len(o.expectations) for o in verdict.outcomes)
    if not verdict.gx_run_for:
        return f"passed (Great Expectations, {verdict.gates_s:.2f} s)"
    kept = total - (verdict.gx_ran or 0)
    ran = f"{verdict.gx_ran} of {total} expectations run, " if verdict.gx_ran else ""
    return (f"passed (Great Expectations: {ran}{kept} outcomes for equal inputs from the gates of KG "
            f"{', '.join(verdict.gx_run_for)}; {verdict.gates_s:.2f} s)")


def cmd_summary(args) -> int:
    from graphmer_core.kg import store

    lake = Lake(args.lake)
    current = lake.current_dir()
    if current is None:
        print(f"graphmer: no promoted KG under {lake.root} (from {args.lake_source}): run `graphmer build-kg` "
              "first, or pass --lake", file=sys.stderr)
        return 1
    print(format_summary(store.verify(current), lake, lake_source=args.lake_source))
    return 0


QUERY_HINT = "the catalogue has the views entities, triples, files, validation and the table kg_info"


def cmd_query(args) -> int:
    import duckdb

    from graphmer_core import render
    from graphmer_core.kg import store

    lake = Lake(args.lake)
    try:
        table = store.query(lake, args.sql)  # a read-only connection: a query cannot change the lake
    except duckdb.Error as exc:
        print(f"graphmer: SQL error: {one_line(str(exc))} ({QUERY_HINT})", file=sys.stderr)
        return 2
    render.write(table, args.format, args.full, footer=f"lake {lake.root}, from {args.lake_source}")
    return 0


def cmd_verify(args) -> int:
    from graphmer_core.train.checkpoint import verify_path

    results = verify_path(args.path)
    for path, ok, message in results:
        print(f"{'ok  ' if ok else 'FAIL'}  {path}  {message}")
    failed = sum(not ok for _, ok, _ in results)
    if failed:
        print(f"graphmer: verify: {failed} of {len(results)} failed", file=sys.stderr)
    return 1 if failed else 0


def cmd_build_dataset(args) -> int:
    from graphmer_core.data.build import build_dataset
    from graphmer_core.data.summary import text_summary
    from graphmer_core.kg.quality import GateFailed
    from graphmer_core.train.profiles import load_profile

    profile = load_profile(args.profile, args.profiles)
    try:
        result = build_dataset(Lake(args.lake), profile.dataset,
                               log=lambda msg: print(f"graphmer: {msg}", file=sys.stderr))
    except GateFailed as exc:
        print(f"graphmer: {exc}", file=sys.stderr)
        return 3
    print(text_summary(result.info, str(result.path)))
    print(f"  this run: {'existing version reused' if result.reused else 'built'} in {result.info['build_s']} s")
    return 0


def cmd_train(args) -> int:
    from graphmer_core.train import run as runs
    from graphmer_core.train.loop import NonFiniteError
    from graphmer_core.train.profiles import load_profile

    lake = Lake(args.lake)

    def log(msg: str) -> None:
        print(f"graphmer: {msg}", file=sys.stderr, flush=True)

    overrides = {"device": args.device} if args.device else {}
    if args.resume:
        profile, seed, planned = runs.resumed_profile(lake, args.resume)
        seeds, run_ids, steps = [seed], [args.resume], args.steps or planned
    else:
        profile = load_profile(args.profile, args.profiles, **overrides)
        seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [args.seed] if args.seed is not None \
            else profile.seeds[:1]
        run_ids = [args.run_id] if args.run_id else [None] * len(seeds)
        steps = args.steps
    if args.run_id and len(seeds) > 1:
        raise ValueError("--run-id names one run; it cannot be combined with several --seeds")
    if runs.under_torchrun():
        ds = runs.worker_dataset(lake, profile)
    else:
        ds = runs.prepare(lake, profile, log)
    results = []
    for seed, run_id in zip(seeds, run_ids, strict=True):
        if profile.processes > 1 and not runs.under_torchrun():
            run_id = run_id or runs.new_run_id(profile.name, seed)
            argv = ["train", "--lake", str(lake.root)]
            argv += ["--resume", args.resume] if args.resume else \
                ["--profile", profile.name, "--profiles", str(args.profiles), "--seed", str(seed)]
            for flag, value in (("--steps", steps), ("--stop-at", args.stop_at), ("--device", args.device)):
                argv += [flag, str(value)] if value is not None else []
            if rc := runs.launch_torchrun(argv, profile.processes, run_id, ds.version):
                return rc
            results.append((run_id, lake.run_dir(run_id)))
            continue
        try:
            result = runs.run(lake, ds, profile, seed, run_id=run_id, steps=steps, stop_at=args.stop_at,
                              resume=bool(args.resume))
        except NonFiniteError as exc:
            print(f"graphmer: training stopped: {exc}; the last good checkpoint stays", file=sys.stderr)
            return 4
        results.append((result.run_id, result.run_dir))
    if runs.under_torchrun():
        return 0  # the launching process prints the summary
    for run_id, run_dir in results:
        record = runs.ckpt.read_run(run_dir)
        print(f"run {run_id}: {record.status} at step {record.checkpoint_step} of {record.planned_steps}")
        print(f"  checkpoint: {run_dir / record.checkpoint if record.checkpoint else '(none)'}")
        print(f"  metrics:    {run_dir / 'metrics.csv'}")
        final = record.info.get("final_metrics", {})
        if final:
            print("  final:      " + "  ".join(f"{k} {final[k]:.4f}" for k in
                                             ("loss", "mlm_acc", "mnm_acc", "valid_loss", "valid_mlm_acc",
                                              "valid_mnm_acc") if k in final))
    return 0


def cmd_eval(args) -> int:
    from pathlib import Path as _P

    from graphmer_core.eval.gates import promote
    from graphmer_core.eval.report import EvalOptions, evaluate, summary_lines

    lake = Lake(args.lake)
    options = EvalOptions(windows=args.windows, per_relation=args.per_relation, kge_budget_s=args.kge_budget,
                          kge=() if args.no_kge else EvalOptions.kge)
    ev = evaluate(lake, args.run_ids, options, log=lambda m: print(f"graphmer: {m}", file=sys.stderr, flush=True))
    print("\n".join(summary_lines(ev.report)))
    print(f"  report: {ev.paths['report.md']}  (and report.json, plots/, completions.parquet)")
    if not ev.passed:
        print("graphmer: the model failed its quality gates; models/current is unchanged", file=sys.stderr)
        return 3
    pointer = promote(lake, _P(ev.report["runs"][args.run_ids[0]]["checkpoint"]))
    print(f"  promoted: {pointer} -> {pointer.read_text().strip()}")
    return 0


def cmd_report(args) -> int:
    import json

    from graphmer_core.eval.report import summary_lines

    lake = Lake(args.lake)
    run_id = args.run_id
    if run_id is None:
        latest = lake.runs_root / "latest.json"
        if not latest.exists():
            print(f"graphmer: no runs recorded under {lake.runs_root}", file=sys.stderr)
            return 1
        run_id = json.loads(latest.read_text())["run_ids"][0]
    run_dir = lake.run_dir(run_id)
    from graphmer_core.train.checkpoint import read_run

    record = read_run(run_dir)
    print(f"run {run_id}: {record.status}, step {record.checkpoint_step} of {record.planned_steps} "
          f"(profile {record.profile}, seed {record.seed})")
    print(f"  metrics:     {run_dir / 'metrics.csv'}")
    print(f"  checkpoints: {run_dir / 'checkpoints'}  (newest: {record.checkpoint})")
    report = run_dir / "report.json"
    if report.exists():
        print("\n".join(summary_lines(json.loads(report.read_text()))))
        print(f"  report:      {run_dir / 'report.md'}  (plots in {run_dir / 'plots'})")
    else:
        print(f"  no evaluation yet: graphmer eval {run_id}")
    current = lake.models_root / "current"
    if current.exists():
        print(f"  models/current -> {current.read_text().strip()}")
    return 0


def cmd_predict(args) -> int:
    from graphmer_core.eval.completion import predict

    table, stats, path = predict(Lake(args.lake), args.run, args.top_k)
    k = stats["k"]
    print(f"{table.num_rows:,} predictions for {stats['pairs']:,} (test head, relation) pairs: {path}")
    print(f"  precision@{k} against the held-out extracted triples: {stats[f'precision@{k}']:.3f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The `graphmer` parser: `main` runs it and docs/cli.md is generated from it."""
    parser = argparse.ArgumentParser(prog="graphmer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build-kg", help="build, check and promote the KG of one or more corpora")
    p.add_argument("--corpus", action="append", metavar="NAME=PATH",
                   help="a corpus (repeatable); default: the corpora of --config")
    p.add_argument("--config", type=Path, default=None, help="corpora YAML (default configs/corpora.yaml)")
    p.add_argument("--lake", type=Path, default=None, help=LAKE_HELP)
    p.add_argument("--workers", type=int, default=None, help="parser and resolver processes (default: all cores)")
    p.add_argument("--regate", action="store_true",
                   help="run the quality gates again even if this version's verdict is recorded")
    from graphmer_core.kg.quality import DEFAULT_GATES

    for key, what in GATE_FLAGS.items():
        default = getattr(DEFAULT_GATES, key)
        p.add_argument("--" + key.replace("_", "-"), dest=key, type=type(default), default=None,
                       metavar="N", help=f"quality gate: {what} (default {default:g})")
    p.set_defaults(func=cmd_build_kg)

    p = sub.add_parser("build-dataset", help="build the training dataset of a profile from the current KG")
    p.add_argument("--profile", default="cpu-small", help="training profile (configs/profiles.yaml)")
    p.add_argument("--profiles", type=Path, default=None, help="profiles YAML (default configs/profiles.yaml)")
    p.add_argument("--lake", type=Path, default=None, help=LAKE_HELP)
    p.set_defaults(func=cmd_build_dataset)

    p = sub.add_parser("train", help="train (or resume) a run of a profile; builds a missing KG and dataset first")
    p.add_argument("--profile", default="cpu-small", help="training profile (configs/profiles.yaml)")
    p.add_argument("--profiles", type=Path, default=None, help="profiles YAML (default configs/profiles.yaml)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: the profile's first)")
    p.add_argument("--seeds", default=None, help="comma-separated seeds: one run per seed")
    p.add_argument("--steps", type=int, default=None, help="planned total steps (drives the schedule)")
    p.add_argument("--stop-at", type=int, default=None, help="end after the checkpoint at this step")
    p.add_argument("--resume", default=None, metavar="RUN_ID", help="continue a run from its newest valid checkpoint")
    p.add_argument("--run-id", default=None, help=argparse.SUPPRESS)
    p.add_argument("--device", choices=("cpu", "cuda"), default=None, help="override the profile's device")
    p.add_argument("--lake", type=Path, default=None, help=LAKE_HELP)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="evaluate runs on the test split beside baselines; promote if the gates pass")
    p.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="one run, or one per seed of the same profile")
    p.add_argument("--windows", type=int, default=2048, help="held-out windows for MLM/MNM")
    p.add_argument("--per-relation", type=int, default=100, help="test triples per relation for link prediction")
    p.add_argument("--kge-budget", type=float, default=60.0, help="seconds of training per PyKEEN baseline")
    p.add_argument("--no-kge", action="store_true", help="skip the PyKEEN baselines")
    p.add_argument("--lake", type=Path, default=None, help=LAKE_HELP)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("report", help="a run's status, where its files are, and its evaluation summary")
    p.add_argument("run_id", nargs="?", default=None, help="default: the newest training_run's first run")
    p.add_argument("--lake", type=Path, default=None, help=LAKE_HELP)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("predict", help="the model's top-k tails for the test split's entities (KG completion)")
    p.add_argument("--run", required=True, metavar="RUN_ID")
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument("--lake", type=Path, default=None, help=LAKE_HELP)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("query", help="run SQL on the DuckDB catalogue (views entities, triples, files)",
                       description=f"Run one SQL statement on the catalogue, opened read-only: {QUERY_HINT}.")
    p.add_argument("sql")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="table (cells cut at 60 columns with an ellipsis), or whole values as CSV or JSON")
    p.add_argument("--full", action="store_true", help="table: show every cell whole")
    p.add_argument("--lake", type=Path, default=None, help=LAKE_HELP)
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("summary", help="print the current KG's summary")
    p.add_argument("--lake", type=Path, default=None, help=LAKE_HELP)
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("verify", help="check a checkpoint or every checkpoint of a run against its checksums")
    p.add_argument("path", type=Path, help="a checkpoint folder (runs/<run_id>/checkpoints/step_N) or a run folder")
    p.set_defaults(func=cmd_verify)

    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    for command in sub.choices.values():  # also accepted after the command
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "lake"):
        args.lake, args.lake_source = resolve_lake(args.lake)
    if getattr(args, "profiles", "unset") is None:
        from graphmer_core.train.profiles import DEFAULT_PROFILES
        args.profiles = DEFAULT_PROFILES
    if getattr(args, "config", "unset") is None:
        from graphmer_core.corpus.config import DEFAULT_CONFIG
        args.config = DEFAULT_CONFIG
    try:
        if args.func in WRITES_LAKE:
            check_writable(Path(args.lake))
        return args.func(args)
    except KeyboardInterrupt:
        print("graphmer: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 -- one line for a person; --debug shows the traceback
        if args.debug:
            import traceback

            traceback.print_exc()
        message, code = describe(exc, args)
        print(f"graphmer: error: {message}", file=sys.stderr)
        return code


def run() -> None:
    """The console script: `main`, then the exit handlers, then out without the interpreter's
    teardown, which freed every object a build had made one by one (0.24 s after a java.base
    rebuild had printed its summary). Everything is written by then: writes are atomic and
    closed, and a thread still running (none should) gets the usual exit, which waits for it."""
    import atexit
    import threading

    code = main()
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()  # multiprocessing's, logging's, ...: what sys.exit would run
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def describe(exc: BaseException, args) -> tuple[str, int]:
    """(one line naming the problem and what to do, exit code) for an error that reached `main`:
    2 for problems the user can act on, 1 for a bug in graphmer."""
    import sqlite3

    text = one_line(str(exc))
    if isinstance(exc, sqlite3.DatabaseError):  # only the parse cache is SQLite
        cache = Path(args.lake) / "cache" / "parse"
        return (f"the parse cache in {cache} is damaged ({text}); it holds only derived facts: delete that folder "
                "and run the command again"), 2
    from graphmer_core.kg.quality import GateFailed

    if isinstance(exc, GateFailed):  # raised by a build that another command asked for
        return text, 3
    if isinstance(exc, GraphmerError | ValueError):
        return text, getattr(exc, "exit_code", 2)
    if isinstance(exc, OSError):
        if exc.errno is None:  # raised by graphmer with its own message
            return text, 2
        where = exc.filename or ""
        lake = str(Path(args.lake).resolve()) if getattr(args, "lake", None) else None
        if lake and str(where).startswith(lake):
            return (f"cannot write the data lake: {exc.strerror}: {where}; fix its permissions or pass --lake PATH "
                    "(or set GRAPHMER_LAKE)"), 2
        return (f"cannot use {where}: {exc.strerror}; check the path" if where else text), 2
    if type(exc).__module__.startswith("duckdb"):
        return f"DuckDB: {text}", 2
    return (f"internal error: {type(exc).__name__}: {text} (run again with --debug for the traceback, and "
            "please report it)"), 1


def one_line(text: str) -> str:
    """An error message on one line: DuckDB's and pydantic's span several, with caret markers."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and set(ln.strip()) != {"^"}]
    return " ".join(lines) or "(no message)"


WRITES_LAKE = {cmd_build_kg, cmd_build_dataset, cmd_train}  # checked up front; eval and predict write into a run


if __name__ == "__main__":
    run()
