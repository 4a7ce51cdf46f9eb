"""The GX worker process: validates in the child, and leaves without a teardown or a warning."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def test_gx_worker_validates_and_exits_cleanly():
    script = textwrap.dedent("""
        import pyarrow  # noqa: F401 - a native pool in the parent: the worker is spawned, not forked
        from graphmer_core.kg.quality import GxWorker

        if __name__ == "__main__":
            worker = GxWorker()
            assert worker._proc._popen.method == "spawn", worker._proc._popen.method
            try:
                worker.validate_suites({}, "no_such_module:suites", {})
            except RuntimeError as exc:
                assert "No module named 'no_such_module'" in str(exc), exc
            worker.close()
            print("exit", worker._proc.exitcode)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["exit", "0"]
    assert "leaked" not in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_gx_worker_defers_what_the_gates_never_use(tmp_path):
    """The worker imports GX with scipy and altair deferred (executed on first use): the gates'
    validations leave them unexecuted, the same validation in a plain import executes them, and a
    deferred module still works when something does use it."""
    (tmp_path / "gx_probe.py").write_text(textwrap.dedent("""
        import sys

        def state():
            return ",".join(type(sys.modules.get(m)).__name__ for m in ("scipy.stats", "altair"))

        def suites():
            def make(gx):
                return {"t": [gx.expectations.ExpectColumnValuesToBeBetween(
                    column="x", min_value=0, max_value=2, meta={"rule": state()})]}
            return make
    """))
    script = textwrap.dedent("""
        import sys
        from graphmer_core.kg import quality
        import gx_probe

        if __name__ == "__main__":
            with quality.GxWorker() as worker:
                [outcome] = worker.validate_suites({"t": (["x"], [(1,), (3,)])}, "gx_probe:suites", {})
            print("worker", outcome.expectations[0]["rule"], outcome.expectations[0]["unexpected_count"])
            if sys.argv[1] == "deferred":
                with quality.deferred_imports():
                    quality._import_gx()
            [outcome] = quality.validate_frames({"t": (["x"], [(1,), (3,)])}, gx_probe.suites())
            print("here", outcome.expectations[0]["rule"], outcome.expectations[0]["unexpected_count"])
            import scipy.stats
            print("used", scipy.stats.norm.cdf(0.0), gx_probe.state())
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    lines = {}
    for mode in ("deferred", "plain"):
        out = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, timeout=180,
                             env=env)
        assert out.returncode == 0, out.stderr
        lines[mode] = out.stdout.split("\n")
    assert lines["deferred"][0] == lines["plain"][0] == "worker _LazyModule,_LazyModule 1"
    assert lines["deferred"][1] == "here _LazyModule,_LazyModule 1"
    assert lines["plain"][1] == "here module,module 1"
    assert lines["deferred"][2] == "used 0.5 module,_LazyModule"


def test_a_worker_never_asked_is_stopped_mid_import_without_a_leak():
    """The gates found their outcomes in the memo: close() stops the worker while it still imports
    GX, and the semaphores its imports registered are unlinked (no resource_tracker warning)."""
    script = textwrap.dedent("""
        import time
        from graphmer_core.kg.quality import GxWorker

        if __name__ == "__main__":
            for pause in (0.0, 0.5, 1.5):
                worker = GxWorker()
                time.sleep(pause)
                worker.close()
                # 0: it left through its handler; -15: stopped before it had one (nothing imported)
                print("stopped", worker._proc.exitcode in (0, -15), worker._proc.exitcode)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[::3] == ["stopped"] * 3 and out.stdout.split()[1::3] == ["True"] * 3, out.stdout
    assert out.stdout.split()[-1] == "0"  # 1.5 s in, mid-import: the handler ran the finalizers
    assert "leaked" not in out.stderr and "Traceback" not in out.stderr, out.stderr
