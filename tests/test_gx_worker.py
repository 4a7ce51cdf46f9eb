"""The GX worker process: validates in the child, and leaves without a teardown or a warning."""

from __future__ import annotations

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
