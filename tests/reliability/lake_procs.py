"""Real subprocesses that build into a lake, stopped at named points (graphmer_core/faults.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from graphmer_core.lake import Lake

FIXTURES = Path(__file__).parent.parent / "fixtures"
GRAPHMER = [sys.executable, "-m", "graphmer_core.cli"]


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHMER_TEST_")}
    return base | {"OMP_NUM_THREADS": "1"} | extra


def crash_env(point: str) -> dict[str, str]:
    return env(GRAPHMER_TEST_CRASH_AT=point)


def pause_env(point: str, go: Path, **extra: str) -> dict[str, str]:
    return env(GRAPHMER_TEST_PAUSE_AT=point, GRAPHMER_TEST_PAUSE_FILE=str(go), **extra)


def build_kg_code(lake: Path, corpora: dict[str, Path], gates: bool = False) -> str:
    """A build-kg in a fresh interpreter (gates off unless asked: GX takes seconds to import)."""
    return (
        "from graphmer_core.corpus.discovery import Corpus\n"
        "from graphmer_core.kg.build import build_kg\n"
        "from graphmer_core.kg.quality import GateThresholds\n"
        "from graphmer_core.lake import Lake\n"
        f"r = build_kg([Corpus(n, p) for n, p in {dict((n, str(p)) for n, p in corpora.items())!r}.items()],"
        f" Lake({str(lake)!r}), workers=1, gates={'GateThresholds()' if gates else 'None'})\n"
        "print(r.kg_version)\n"
    )


def python(code: str, environ: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=environ or env(), capture_output=True, text=True,
                          timeout=timeout)


def start(args: list[str], environ: dict[str, str], log: Path) -> subprocess.Popen:
    """A background process whose output goes to `log` (a pipe could fill and stall it)."""
    fh = open(log, "w")
    return subprocess.Popen(args, env=environ, stdout=fh, stderr=subprocess.STDOUT, text=True)


def wait_for(path: Path, proc: subprocess.Popen | None = None, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process {proc.args} ended ({proc.returncode}) before {path} appeared")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout} s")
        time.sleep(0.05)


def shop_copy(root: Path) -> Path:
    dest = root / "shop"
    shutil.copytree(FIXTURES / "shop", dest)
    return dest


def change(corpus: Path, n: int = 1) -> None:
    """A new module: the corpus gets another content hash, so the next build is a new version."""
    (corpus / "shop" / f"extra{n}.py").write_text(
        f"from shop.pricing import *\n\n\ndef extra_{n}(basket):\n    return len(basket)\n")


def lock_is_free(lake: Lake) -> bool:
    """Whether the writer lock can be taken at once (no stale lock after a killed process)."""
    try:
        with lake.lock("test probe", timeout=0):
            return True
    except Exception:
        return False


def leftovers(lake: Lake) -> list[str]:
    """Temp files and folders (dot names) killed writers left in the places writers share."""
    places = [lake.staging, lake.kg_root, lake.datasets_root, lake.root]
    return sorted(str(p.relative_to(lake.root)) for d in places if d.is_dir() for p in d.iterdir()
                  if p.name.startswith(".") and p.name != ".gitkeep")
