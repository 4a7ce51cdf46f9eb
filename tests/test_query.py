"""`graphmer query` and the catalogue: read-only, values bound or quoted, formats, which lake."""

from __future__ import annotations

import shutil

from graphmer_core.cli import main
from graphmer_core.lake import Lake


def test_a_lake_path_with_a_quote_builds_rebuilds_and_queries(tmp_path, fixtures, capsys):
    """Paths reach DuckDB as bound parameters or quoted literals, never pasted into SQL text: the
    catalogue's views, the gates' views and the changes against the previous version."""
    lake, src = tmp_path / "it's a lake", tmp_path / "shop"
    shutil.copytree(fixtures / "shop", src)
    build = ["build-kg", "--corpus", f"shop={src}", "--lake", str(lake), "--workers", "1"]
    assert main(build) == 0, capsys.readouterr().err
    (src / "shop" / "extra.py").write_text("def extra():\n    return 1\n")
    assert main(build) == 0, capsys.readouterr().err  # a second version: changes against the first
    assert "since " in capsys.readouterr().out
    assert main(["query", "--lake", str(lake), "SELECT name FROM entities WHERE name = 'extra' AND kind = 'Function'"]) == 0
    assert "(1 row" in capsys.readouterr().out
    assert Lake(lake).current_version() is not None
