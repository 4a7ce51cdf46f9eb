"""The parse cache: hits skip extraction, and a corrupt entry is recomputed, never trusted."""

import sqlite3

from graphmer_core.corpus.discovery import Corpus
from graphmer_core.corpus.index import index_corpora
from graphmer_core.parsing.batch import cache_version, parse_files, to_parse
from graphmer_core.parsing.cache import FILE, ParseCache

SRC = {"pkg/__init__.py": "", "pkg/a.py": "def f():\n    return g()\n\ndef g():\n    return 1\n",
       "pkg/b.py": "from pkg.a import f\nf()\n"}


def test_second_parse_is_all_cache_hits_and_changed_file_reparses_alone(make_tree, tmp_path):
    root = make_tree(SRC)
    cache = tmp_path / "cache"
    first = parse_files(index_corpora([Corpus("c", root)]), cache, workers=1)
    assert (first.reparsed, first.cache_hits) == (3, 0)
    second = parse_files(index_corpora([Corpus("c", root)]), cache, workers=1)
    assert (second.reparsed, second.cache_hits) == (0, 3)
    assert [p.facts for p in second.parsed] == [p.facts for p in first.parsed]
    (root / "pkg/b.py").write_text("from pkg.a import g\ng()\n")
    records = index_corpora([Corpus("c", root)])
    assert to_parse(records, cache) == 1  # known before the build, from the cache's keys
    third = parse_files(records, cache, workers=1)
    assert (third.reparsed, third.cache_hits) == (1, 2)
    assert to_parse(records, cache) == 0


def test_to_parse_counts_every_usable_file_of_an_empty_cache(make_tree, tmp_path):
    records = index_corpora([Corpus("c", make_tree(SRC))])
    assert to_parse(records, tmp_path / "none") == 3
    assert not (tmp_path / "none" / FILE).exists()  # counting creates no cache


def test_corrupt_cache_entry_is_detected_and_recomputed(make_tree, tmp_path):
    root = make_tree(SRC)
    cache_dir = tmp_path / "cache"
    records = index_corpora([Corpus("c", root)])
    good = parse_files(records, cache_dir, workers=1)
    con = sqlite3.connect(cache_dir / FILE)
    version, sha, payload = con.execute("SELECT version, sha256, payload FROM heads LIMIT 1").fetchone()
    with con:  # flip bytes in the payload, keep the old stamp
        con.execute("UPDATE heads SET payload = ? WHERE sha256 = ?", (payload[:-3] + b"!!}", sha))
    con.close()
    assert ParseCache(cache_dir).get(version, sha) is None
    again = parse_files(records, cache_dir, workers=1)
    assert again.reparsed == 1
    assert [p.facts for p in again.parsed] == [p.facts for p in good.parsed]
    assert ParseCache(cache_dir).get(version, sha) is not None  # rewritten


def test_get_many_reads_entries_across_query_chunks_and_leaves_out_misses_and_bad_ones(tmp_path, monkeypatch):
    from graphmer_core.parsing import cache as cache_mod

    monkeypatch.setattr(cache_mod, "GET_MANY_CHUNK", 3)  # 8 keys: three queries
    cache = ParseCache(tmp_path)
    entries = {f"{i:064x}": cache_mod.encode({"n": i}) for i in range(6)}
    cache.put_many(("v1", sha, payload) for sha, payload in entries.items())
    cache.put_many([("v2", "f" * 64, cache_mod.encode({"n": -1}))])  # another version's key: a miss for v1
    bad = f"{5:064x}"
    with cache._connect() as con:
        con.execute("UPDATE heads SET payload = ? WHERE sha256 = ?", (entries[bad][0][:-1] + b"\x00", bad))
    got = cache.get_many("v1", [*entries, *entries, "f" * 64, "e" * 64])  # repeated keys asked once
    assert got == {sha: entries[sha][0] for sha in list(entries)[:5]}
    assert cache.rests("v1", [*entries, "f" * 64]) == {sha: rest for sha, (_, rest) in entries.items()}
    facts = {sha: dict(cache_mod.Facts(head, cache_mod.Rests(cache, "v1"), sha)) for sha, head in got.items()}
    assert facts == {f"{i:064x}": {"n": i} for i in range(5)}
    cache.close()


def test_a_lost_rest_is_made_again_from_the_file(make_tree, tmp_path):
    """The members and bodies of a cached file, gone since its head was read (a damaged entry),
    are parsed again from the file when read, and cached again."""
    root = make_tree(SRC)
    cache_dir = tmp_path / "cache"
    records = index_corpora([Corpus("c", root)])
    fresh = {p.path: dict(p.facts) for p in parse_files(records, cache_dir, workers=1).parsed}
    cached = parse_files(records, cache_dir, workers=1)
    assert cached.reparsed == 0
    with sqlite3.connect(cache_dir / FILE) as con:
        con.execute("UPDATE rests SET payload = x'00'")  # every rest damaged, the heads intact
    assert {p.path: dict(p.facts) for p in cached.parsed} == fresh
    with sqlite3.connect(cache_dir / FILE) as con:
        assert all(p != b"\x00" for (p,) in con.execute("SELECT payload FROM rests"))  # cached again

    import hashlib
    import marshal

    other = marshal.dumps({"a": "dict, where the parts are expected"})  # checks, but of another shape
    with sqlite3.connect(cache_dir / FILE) as con:
        for table in ("heads", "rests"):
            con.execute(f"UPDATE {table} SET payload = ?, stamp = ?", (other, hashlib.sha256(other).hexdigest()))
    again = parse_files(records, cache_dir, workers=1)
    assert again.reparsed == len(fresh)  # a head of another shape is a miss
    assert {p.path: dict(p.facts) for p in again.parsed} == fresh
    with sqlite3.connect(cache_dir / FILE) as con:
        con.execute("UPDATE rests SET payload = ?, stamp = ?", (other, hashlib.sha256(other).hexdigest()))
    cached = parse_files(records, cache_dir, workers=1)
    assert cached.reparsed == 0 and {p.path: dict(p.facts) for p in cached.parsed} == fresh  # rests made again


def test_cached_facts_decode_the_bodies_only_when_a_body_key_is_read(make_tree, tmp_path):
    """A rebuild reads every file's types (the Java type index), the members only of the files
    other files' resolution reaches, the bodies only of the files it resolves again: the payload
    holds them apart, and Facts decodes each part on first use; a cached file's members and bodies
    are read from the cache when one of them is first read, or all at once (`prefetch`)."""
    from graphmer_core.parsing import cache as cache_mod
    from graphmer_core.parsing.depth import MAX_DEPTH

    root = make_tree({"A.java": "package p;\nclass A { int f; void m() { g(); } void g() {} }\n"})
    records = index_corpora([Corpus("c", root)])
    fresh = parse_files(records, tmp_path / "cache", workers=1).parsed[0].facts
    facts = parse_files(records, tmp_path / "cache", workers=1).parsed[0].facts  # from the cache
    assert isinstance(facts, cache_mod.Facts) and facts["calls"] and facts["types"]
    assert facts == fresh and dict(facts) == fresh and sorted(facts) == sorted(fresh)

    lazy = cache_mod.Facts(*cache_mod.encode(fresh))
    assert lazy.get("types") == fresh["types"] and lazy.get("package") == "p" and lazy.decoded() == 1
    assert lazy.get("methods") == fresh["methods"] and lazy.decoded() == 2
    assert lazy.get("calls") == fresh["calls"] and lazy.decoded() == 3
    assert lazy.get("absent", 7) == 7 and "absent" not in lazy and len(lazy) == len(fresh)

    fetched = []  # a cached file's rest is read from the cache only when a key of it is
    version = cache_version("java", MAX_DEPTH)
    rests = cache_mod.Rests(ParseCache(tmp_path / "cache"), version)
    read = rests.cache.rests
    rests.cache.rests = lambda v, shas: (lambda asked: fetched.append(asked) or read(v, asked))(list(shas))
    sha = records[0].sha256
    head = rests.cache.get_many(version, [sha])[sha]
    later = cache_mod.Facts(head, rests, sha)
    assert later.get("types") == fresh["types"] and fetched == []
    assert later.get("calls") == fresh["calls"] and fetched == [[sha]] and dict(later) == fresh
    first = cache_mod.Facts(head, rests, sha)
    cache_mod.prefetch([first, cache_mod.Facts(head, rests, sha)])  # one query for both
    assert len(fetched) == 2 and first.get("methods") == fresh["methods"] and len(fetched) == 2  # prefetched
    assert first.get("calls") == fresh["calls"] and len(fetched) == 2


def test_unreadable_cache_file_is_moved_aside_and_rebuilt(make_tree, tmp_path):
    root = make_tree(SRC)
    cache_dir = tmp_path / "cache"
    records = index_corpora([Corpus("c", root)])
    good = parse_files(records, cache_dir, workers=1)
    (cache_dir / FILE).write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (cache_dir / (FILE + suffix)).unlink(missing_ok=True)
    again = parse_files(records, cache_dir, workers=1)
    assert (again.reparsed, again.cache_hits) == (3, 0)
    assert [p.facts for p in again.parsed] == [p.facts for p in good.parsed]
    assert [p.name for p in cache_dir.glob(FILE + ".corrupt-*")]  # kept for inspection
    assert parse_files(records, cache_dir, workers=1).cache_hits == 3


def test_pool_writes_the_cache_too(make_tree, tmp_path):
    files = {f"m{i:03d}.py": f"def f{i}():\n    return {i}\n" for i in range(60)}
    records = index_corpora([Corpus("c", make_tree(files))])
    first = parse_files(records, tmp_path / "cache", workers=2)
    second = parse_files(records, tmp_path / "cache", workers=2)
    assert (first.reparsed, second.cache_hits) == (60, 60)
    assert [p.facts for p in first.parsed] == [p.facts for p in second.parsed]


def test_pool_and_serial_extraction_agree(make_tree, tmp_path):
    files = {f"m{i:03d}.py": f"def f{i}():\n    return {i}\n" for i in range(60)}
    root = make_tree(files)
    records = index_corpora([Corpus("c", root)])
    serial = parse_files(records, None, workers=1)
    pooled = parse_files(records, None, workers=2)
    assert [p.facts for p in serial.parsed] == [p.facts for p in pooled.parsed]


def _parse_into(args):
    root, cache = args
    from graphmer_core.corpus.discovery import Corpus as C
    out = parse_files(index_corpora([C("c", root)]), cache, workers=1)
    return out.reparsed


def test_two_processes_fill_one_cache_at_once(make_tree, tmp_path):
    """Two Dagster runs (say, both corpus partitions) may parse into the same cache concurrently."""
    import multiprocessing as mp

    roots = [make_tree({f"p{k}/m{i:03d}.py": f"def f{k}_{i}():\n    return {i}\n" for i in range(1500)}, f"src{k}")
             for k in range(2)]
    cache = tmp_path / "cache"
    with mp.get_context("spawn").Pool(2) as pool:
        assert pool.map(_parse_into, [(r, cache) for r in roots]) == [1500, 1500]  # > one commit batch each
    for root in roots:
        again = parse_files(index_corpora([Corpus("c", root)]), cache, workers=1)
        assert (again.reparsed, again.cache_hits) == (0, 1500)


def _open_at(cache_dir, start, results):
    import time

    while time.time() < start:  # every process opens the new cache in the same instant
        pass
    try:
        with ParseCache(cache_dir) as cache:
            cache.get("v", "0" * 64)
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_new_cache_at_once_all_get_it(tmp_path):
    """Switching a new SQLite file to WAL is a race that SQLite's busy handler does not cover:
    the losers got "database is locked" at once (seen in CI, two processes parsing into one cache)."""
    import multiprocessing as mp
    import time

    ctx = mp.get_context("fork")
    outcomes = []
    for k in range(40):
        results, start = ctx.Queue(), time.time() + 0.1
        procs = [ctx.Process(target=_open_at, args=(tmp_path / f"c{k}", start, results)) for _ in range(6)]
        for p in procs:
            p.start()
        outcomes += [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join()
    assert set(outcomes) == {"ok"}, [o for o in outcomes if o != "ok"][:3]


def test_a_forked_child_reads_the_cache_on_a_connection_of_its_own(make_tree, tmp_path):
    """Resolve workers are forked from a build that holds the cache open: SQLite connections must
    not cross fork, so the child opens its own (the parent's stays the parent's) and reads the same."""
    import multiprocessing as mp

    from graphmer_core.parsing.depth import MAX_DEPTH

    root = make_tree(SRC)
    records = index_corpora([Corpus("c", root)])
    parse_files(records, tmp_path / "cache", workers=1)
    version = cache_version("python", MAX_DEPTH)
    shas = [r.sha256 for r in records]
    cache = ParseCache(tmp_path / "cache")
    parent = cache.rests(version, shas)
    inherited = cache._con
    assert len(parent) == 3 and inherited is not None

    def child(conn) -> None:
        try:
            conn.send((cache.rests(version, shas), cache._con is not inherited))
        except Exception as exc:  # noqa: BLE001 -- said to the parent, which fails on it
            conn.send(repr(exc))

    ours, theirs = mp.Pipe()
    proc = mp.get_context("fork").Process(target=child, args=(theirs,))
    proc.start()
    got = ours.recv() if ours.poll(60) else "no answer"
    proc.join(10)
    assert got == (parent, True)
    assert cache._con is inherited and cache.rests(version, shas) == parent  # the parent's, still usable
    cache.close()
