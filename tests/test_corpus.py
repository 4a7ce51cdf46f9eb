"""Corpus discovery and safe reading: deterministic, bounded to the root, nothing silently lost."""

import os

from graphmer_core.corpus.discovery import Corpus, discover
from graphmer_core.corpus.index import fingerprint, index_corpora


def test_discovery_is_sorted_and_filters_languages_and_excluded_folders(make_tree):
    root = make_tree({
        "b.py": "x = 1\n", "a/z.java": "class Z {}\n", "a/m.py": "", "notes.txt": "hi",
        ".hidden/h.py": "", "build/gen.py": "", "pkg/__pycache__/c.py": "", "vendor/v.py": "",
    })
    found = discover(Corpus("c", root))
    assert [(c.path, c.language) for c in found.candidates] == [
        ("a/m.py", "python"), ("a/z.java", "java"), ("b.py", "python")]


def test_custom_exclude_globs_replace_the_defaults(make_tree):
    root = make_tree({"test/t.py": "", "lib/test_x.py": "", "build/b.py": ""})
    paths = [c.path for c in discover(Corpus("c", root, exclude=("test", "lib/test_*"))).candidates]
    assert paths == ["build/b.py"]


def test_symlinks_never_leave_the_root(make_tree, tmp_path):
    outside = make_tree({"secret.py": "password = 1\n", "dir/x.py": ""}, name="outside")
    root = make_tree({"ok.py": "", "inside_target.py": "y = 2\n"})
    os.symlink(outside / "secret.py", root / "leak.py")
    os.symlink(outside / "dir", root / "linked_dir")
    os.symlink(root / "inside_target.py", root / "alias.py")
    found = discover(Corpus("c", root))
    assert [c.path for c in found.candidates] == ["alias.py", "inside_target.py", "ok.py"]
    assert ("leak.py", "symlink points outside the corpus root") in found.skipped
    assert ("linked_dir", "symlinked folder not followed") in found.skipped


def test_bad_files_are_recorded_with_reasons_not_dropped(make_tree):
    root = make_tree({
        "good.py": "def f():\n    return 1\n",
        "binary.py": b"\x00\x01\x02garbage",
        "latin1.py": "s = 'caf\xe9'\n".encode("latin-1"),
        "huge.java": "class H {}\n" + "// pad\n" * 200,
        "locked.py": "x = 1\n",
    })
    os.chmod(root / "locked.py", 0)
    records = {r.path: r for r in index_corpora([Corpus("c", root, max_bytes=1000)])}
    assert records["good.py"].status == "ok" and len(records["good.py"].sha256) == 64
    assert records["binary.py"].status == "skipped" and "binary" in records["binary.py"].reason
    assert records["latin1.py"].status == "skipped" and "UTF-8" in records["latin1.py"].reason
    assert records["huge.java"].status == "skipped" and "oversized" in records["huge.java"].reason
    if os.geteuid() != 0:  # root reads anything
        assert records["locked.py"].status == "failed" and "unreadable" in records["locked.py"].reason


def test_fingerprint_changes_with_content_only(make_tree):
    root = make_tree({"a.py": "x = 1\n", "b.py": "y = 2\n"})
    fp1 = fingerprint(index_corpora([Corpus("c", root)]))
    assert fingerprint(index_corpora([Corpus("c", root)])) == fp1
    os.utime(root / "a.py", (0, 0))  # timestamps do not matter
    assert fingerprint(index_corpora([Corpus("c", root)])) == fp1
    (root / "a.py").write_text("x = 3\n")
    assert fingerprint(index_corpora([Corpus("c", root)])) != fp1


def test_bad_corpus_definitions_fail_clearly(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="corpus name"):
        Corpus("bad name", tmp_path)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        discover(Corpus("c", tmp_path / "missing"))
    with pytest.raises(ValueError, match="unique"):
        index_corpora([Corpus("c", tmp_path), Corpus("c", tmp_path)])


def test_the_index_cache_rereads_only_changed_files(make_tree, tmp_path, monkeypatch):
    """A file whose size, mtime, ctime and inode match the recorded ones keeps its recorded sha256
    (shown here by tampering with the record); any change to the file rereads it."""
    import json

    from graphmer_core.corpus import index

    root = make_tree({"a.py": "x = 1\n", "b.py": "y = 2\n"})
    cache = tmp_path / "cache"
    truth = {r.path: r.sha256 for r in index_corpora([Corpus("c", root)])}
    # Files written a moment ago are never recorded: their mtime may not tell the next write apart.
    assert {r.path: r.sha256 for r in index_corpora([Corpus("c", root)], cache=cache)} == truth
    assert json.loads((cache / "c.json").read_text())["files"] == {}

    monkeypatch.setattr(index._StatCache, "RACY_NS", 0)  # as if the files were old
    index_corpora([Corpus("c", root)], cache=cache)
    record = json.loads((cache / "c.json").read_text())
    record["files"]["a.py"][1] = "0" * 64
    (cache / "c.json").write_text(json.dumps(record))
    again = {r.path: r.sha256 for r in index_corpora([Corpus("c", root)], cache=cache)}
    assert again == {**truth, "a.py": "0" * 64}  # not reread

    before = (root / "a.py").stat().st_mtime_ns
    (root / "a.py").write_text("x = 2\n")  # same size, new content (and another mtime, whatever the clock's tick)
    os.utime(root / "a.py", ns=(before - 10**9, before - 10**9))
    changed = {r.path: r.sha256 for r in index_corpora([Corpus("c", root)], cache=cache)}
    assert changed["a.py"] not in (truth["a.py"], "0" * 64) and changed["b.py"] == truth["b.py"]
    (root / "b.py").unlink()
    assert [r.path for r in index_corpora([Corpus("c", root)], cache=cache)] == ["a.py"]
    assert set(json.loads((cache / "c.json").read_text())["files"]) == {"a.py"}
