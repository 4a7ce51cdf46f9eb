"""A corpus built to hurt: `graphmer build-kg` (a real subprocess) must finish with the default
gates, record every bad file with its reason, keep the good files' triples, and read nothing
outside the corpus root (checked by an audit hook on every `open` and folder listing)."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from graphmer_core.lake import Lake

BIG_BYTES = 20_000_000  # over the default max_bytes (2 MB): skipped by its size, never read
DEPTH = 10_000

# Runs the CLI with an audit hook that logs every path opened or listed (NUL-separated, appended
# with one write each, so the forked parse/GX workers can log too).
RUNNER = """
import os, sys
from graphmer_core.cli import main
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
def hook(event, args):
    if event in ("open", "os.scandir", "os.listdir") and args and isinstance(args[0], (str, bytes)):
        os.write(fd, os.fsencode(os.path.abspath(args[0])) + b"\\0")
sys.addaudithook(hook)
sys.exit(main(sys.argv[2:]))
"""


def _drop_read_override() -> None:
    """In the child, before exec: remove CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the capability
    bounding set, so even root is refused a chmod-000 file (prctl PR_CAPBSET_DROP)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _how_to_block_reads() -> tuple[object, str]:
    """(preexec_fn, '') when a chmod-000 file can be made unreadable to the build, else (None, why not)."""
    if os.geteuid() != 0:
        return None, ""
    try:
        subprocess.run(["true"], preexec_fn=_drop_read_override, check=True)
    except (subprocess.SubprocessError, OSError) as exc:
        return False, f"running as root and cannot drop CAP_DAC_OVERRIDE ({exc}): chmod 000 does not stop root"
    return _drop_read_override, ""


PREEXEC, NO_BLOCK_REASON = _how_to_block_reads()
READS_BLOCKED = PREEXEC is not False


def _write(root: Path, rel: str, data: bytes | str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def make_hostile_corpus(base: Path) -> tuple[Path, Path]:
    root, outside = base / "root", base / "outside"
    _write(outside, "secret.py", "def secret_outside():\n    return 1\n")
    _write(outside, "dir/leak.py", "def leaked_outside():\n    pass\n")
    _write(root, "good.py", "class Good:\n    def run(self):\n        return helper()\n\n\n"
                            "def helper():\n    return 1\n")
    _write(root, "Good.java", "package p;\npublic class Good { void run() { helper(); } void helper() {} }\n")
    _write(root, "binary.py", bytes(range(256)) * 4)
    _write(root, "latin1.py", "s = 'caf\xe9'\n".encode("latin-1"))
    _write(root, "bom.py", b"\xef\xbb\xbfdef with_bom():\n    return 1\n")
    _write(root, "Bom.java", b"\xef\xbb\xbfpackage p;\nclass BomJ { void m() {} }\n")
    _write(root, "crlf.py", b"def crlf_a():\r\n    return 1\r\n\r\ndef crlf_b():\r\n    return 2\r\n")
    _write(root, "mixed.py", b"def mixed_a():\r\n    return 1\n\rdef mixed_b():\n    return 2\r\n")
    _write(root, "empty.py", b"")
    _write(root, "Empty.java", b"")
    _write(root, "broken.py", "def broken(:\n    return\n\nclass StillHere:\n    pass\n")
    _write(root, "Broken.java", "package p;\npublic class Broken { void m( { } }\n")
    with open(root / "big.py", "wb") as fh:  # 20 MB in one write: cheap to make
        fh.write(b"x = 1\n" * (BIG_BYTES // 6 + 1))
    _write(root, "deep.py", "x = " + "(" * DEPTH + "1" + ")" * DEPTH + "\n")
    _write(root, "deep_list.py", "y = " + "[" * DEPTH + "]" * DEPTH + "\n")
    _write(root, "deep_sum.py", "z = " + "1 + " * DEPTH + "1\n")
    _write(root, "deep_calls.py", "def f(x):\n    return x\n\n\nw = " + "f(" * DEPTH + "1" + ")" * DEPTH + "\n")
    _write(root, "Deep.java", "class Deep { int x = " + "(" * DEPTH + "1" + ")" * DEPTH + "; }\n")
    os.mkfifo(root / "fifo.py")  # a plain open() would wait for a writer forever
    os.symlink("loop.py", root / "loop.py")
    _write(root, "sub/inner.py", "def inner():\n    pass\n")
    os.symlink(root, root / "sub" / "up")  # a folder loop
    os.symlink(outside / "secret.py", root / "secret_link.py")
    os.symlink(outside / "dir", root / "dir_link")
    os.symlink(root / "good.py", root / "alias.py")  # inside the root: followed
    os.symlink(root / "gone.py", root / "dangling.py")
    for rel, fn in [("with space.py", "spaced"), ("quo'te\".py", "quoted"), ("new\nline.py", "newline"),
                    ("ünïcødé.py", "unicode_name"), ("日本/モジュール.py", "japanese")]:
        _write(root, rel, f"def {fn}():\n    pass\n")
    (root / os.fsdecode(b"caf\xe9.py")).write_text("def latin1_name():\n    pass\n")  # a name that is not UTF-8
    (root / os.fsdecode(b"d\xff")).mkdir()
    (root / os.fsdecode(b"d\xff") / "x.py").write_text("def in_latin1_folder():\n    pass\n")
    if READS_BLOCKED:
        _write(root, "locked.py", "def locked():\n    pass\n")
        _write(root, "locked_dir/hidden.py", "def hidden():\n    pass\n")
        os.chmod(root / "locked.py", 0)
        os.chmod(root / "locked_dir", 0)
    return root, outside


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    root, outside = make_hostile_corpus(base)
    lake, log = base / "lake", base / "opened.log"
    out = subprocess.run(
        [sys.executable, "-c", RUNNER, str(log), "build-kg", "--corpus", f"hostile={root}", "--lake", str(lake)],
        capture_output=True, text=True, timeout=180, preexec_fn=PREEXEC or None)
    current = Lake(lake).current_dir()
    tables = {name: pq.read_table(current / f"{name}.parquet").to_pylist()
              for name in ("files", "entities", "triples")} if current is not None else {}
    opened = [p.decode(errors="replace") for p in log.read_bytes().split(b"\0") if p]
    yield {"out": out, "root": root, "outside": outside, "opened": opened, **tables}
    for folder in (root / "locked_dir",):  # let pytest clean up
        if folder.exists():
            os.chmod(folder, 0o755)


def test_the_build_finishes_with_the_default_gates(hostile):
    out = hostile["out"]
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    assert "gates: passed" in out.stdout


def test_every_bad_file_is_in_the_file_table_with_its_reason(hostile):
    files = {r["path"]: r for r in hostile["files"]}
    expected = {  # path -> (status, words of the reason)
        "binary.py": ("skipped", "binary"),
        "latin1.py": ("skipped", "not UTF-8"),
        "big.py": ("skipped", f"oversized: {BIG_BYTES // 6 * 6 + 6:,} bytes"),
        "fifo.py": ("skipped", "not a regular file: a FIFO"),
        "loop.py": ("failed", "Too many levels of symbolic links"),
        "dangling.py": ("failed", "No such file or directory"),
        "secret_link.py": ("skipped", "symlink points outside the corpus root"),
        "dir_link": ("skipped", "symlinked folder not followed"),
        "sub/up": ("skipped", "symlinked folder not followed"),
        "broken.py": ("partial", "syntax error"),
        "Broken.java": ("partial", "syntax error"),
        "caf\\xe9.py": ("skipped", "file name is not valid UTF-8"),
        "d\\xff": ("skipped", "folder name is not valid UTF-8"),
    }
    locked = {"locked.py", "locked_dir"} if READS_BLOCKED else set()  # see the test below
    for path, (status, words) in expected.items():
        assert path in files, f"{path!r} missing from the file table"
        assert files[path]["status"] == status and words in files[path]["reason"], files[path]
    for row in files.values():  # nothing unusable without a reason
        assert (row["status"] == "ok") == (row["reason"] is None), row
    names = {"good.py", "Good.java", "bom.py", "Bom.java", "crlf.py", "mixed.py", "empty.py", "Empty.java",
             "deep.py", "deep_list.py", "deep_sum.py", "deep_calls.py", "Deep.java", "sub/inner.py", "alias.py",
             "with space.py", "quo'te\".py", "new\nline.py", "ünïcødé.py", "日本/モジュール.py"}
    assert set(files) == names | set(expected) | locked  # every file seen, once
    assert {files[n]["status"] for n in names} <= {"ok", "partial"}


def test_good_files_still_give_their_triples(hostile):
    entities = {e["entity_id"]: e for e in hostile["entities"]}
    for eid in ("py:hostile:good.Good.run", "py:hostile:good.helper", "py:hostile:bom.with_bom",
                "py:hostile:crlf.crlf_a", "py:hostile:mixed.mixed_a", "py:hostile:mixed.mixed_b",
                "py:hostile:broken.StillHere", "py:hostile:sub.inner.inner", "py:hostile:with space.spaced",
                "py:hostile:quo'te\".quoted", "py:hostile:new\nline.newline", "py:hostile:ünïcødé.unicode_name",
                "py:hostile:日本.モジュール.japanese", "java:hostile:p.Good.helper()", "java:hostile:p.BomJ.m()"):
        assert eid in entities, eid
    assert entities["py:hostile:crlf.crlf_b"]["start_line"] == 4  # CRLF counts as one line break
    triples = {(t["head_id"], t["relation"], t["tail_id"]) for t in hostile["triples"]}
    assert ("py:hostile:good.Good.run", "calls", "py:hostile:good.helper") in triples
    assert ("py:hostile:deep_calls", "calls", "py:hostile:deep_calls.f") in triples
    assert ("java:hostile:p.Good.run()", "calls", "java:hostile:p.Good.helper()") in triples


def test_nothing_outside_the_root_is_read(hostile):
    outside = str(hostile["outside"].resolve())
    read = [p for p in hostile["opened"] if os.path.realpath(p).startswith(outside)]
    assert read == []
    assert any(p.endswith("good.py") for p in hostile["opened"])  # the hook did see the corpus
    text = repr(hostile["entities"]) + repr(hostile["triples"])
    assert "secret_outside" not in text and "leaked_outside" not in text


@pytest.mark.skipif(not READS_BLOCKED, reason=NO_BLOCK_REASON)
def test_an_unreadable_file_and_folder_are_recorded(hostile):
    files = {r["path"]: r for r in hostile["files"]}
    assert files["locked.py"]["status"] == "failed"
    assert files["locked.py"]["reason"] == "unreadable: Permission denied"
    assert files["locked_dir"]["status"] == "skipped"
    assert files["locked_dir"]["reason"] == "folder not listed: Permission denied"
    assert not any("locked" in e["entity_id"] or "hidden" in e["entity_id"] for e in hostile["entities"])
