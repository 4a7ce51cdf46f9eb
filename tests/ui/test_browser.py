"""The Dagster UI in a real browser: `dagster dev` on a free port of 127.0.0.1 with a temporary
DAGSTER_HOME and a lake built from the shop fixture, driven by Debian's Chromium through Playwright
(the system browser; Playwright never downloads one). Skipped, with the reason, without Chromium."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
LOCATION = "graphmer_pipeline.definitions"  # the code location workspace.yaml names
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SKIP_REASON = "Chromium is not installed (apt-get install chromium), so the browser test does not run"

if CHROMIUM is None:
    pytest.skip(SKIP_REASON, allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (the dev extra has it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 420) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dagster dev exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f"dagster dev did not answer on {url} in {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    """Ctrl-C as a person would, then the whole process group (webserver, daemon, code servers)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


@pytest.fixture
def dagster_dev(tmp_path, fixtures):
    """`dagster dev -w workspace.yaml` as `make ui` runs it, with the instance template copied into a
    fresh DAGSTER_HOME and the corpora and lake of this test (GRAPHMER_CORPORA, GRAPHMER_LAKE)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "configs" / "dagster.yaml", home / "dagster.yaml")
    shutil.copytree(fixtures / "shop", tmp_path / "shop")
    corpora = tmp_path / "corpora.yaml"
    corpora.write_text(yaml.safe_dump({"corpora": [{"name": "shop", "root": str(tmp_path / "shop")}]}))
    lake = tmp_path / "lake"
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "GRAPHMER_CORPORA": str(corpora), "GRAPHMER_LAKE": str(lake)}
    log = tmp_path / "dagster_dev.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("dagster")), "dev", "-w", "workspace.yaml",
                                 "-h", "127.0.0.1", "-p", str(port)], cwd=REPO, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(url, proc, log)
        yield url, lake, log
    finally:
        stop(proc)


def test_the_ui_shows_the_pipeline_and_materializes_the_kg(dagster_dev):
    from graphmer_pipeline.definitions import defs

    url, lake, log = dagster_dev
    expect = sync_api.expect
    graph = defs.resolve_asset_graph()
    groups: dict[str, list[str]] = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, []).append(key.to_user_string())
    checks: dict[str, list[str]] = {}
    for check in graph.asset_check_keys:
        checks.setdefault(check.asset_key.to_user_string(), []).append(check.name)

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.set_default_timeout(60_000)
            # Dagster greets a new instance with a newsletter dialog; a person clicks Skip.
            page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda button: button.click())
            body = page.locator("body")

            for group, assets in sorted(groups.items()):
                page.goto(f"{url}/locations/{LOCATION}/asset-groups/{group}")
                for asset in assets:
                    expect(body).to_contain_text(asset)
            for asset, names in sorted(checks.items()):
                page.goto(f"{url}/assets/{asset}?view=checks")
                for name in names:
                    expect(body).to_contain_text(name)
            page.goto(f"{url}/automation")
            expect(body).to_contain_text("nightly_kg_rebuild")
            expect(body).to_contain_text("new_kg_version")

            # The KG group through its job, as a person launches it: the run carries the job's name.
            page.goto(f"{url}/locations/{LOCATION}/jobs/kg_rebuild")
            page.get_by_role("button", name="Materialize all").click()
            expect(page.get_by_text(re.compile(r"Launched run \w+"))).to_be_visible()
            page.get_by_text("View", exact=True).first.click()
            expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}"))
            expect(body).to_contain_text("kg_rebuild")
            expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=900_000)

            page.goto(f"{url}/overview/activity/timeline")
            # a row of its own, named for the job (runs of no job share "Jobless asset materializations")
            expect(page.get_by_text("kg_rebuild", exact=True).first).to_be_visible()
            page.goto(f"{url}/assets/kg_triples?view=checks")
            page.get_by_text("ontology_and_coverage").first.click()
            for cell in ("entities per parsed file", "between 1 and 2000", "java 4.667, python 7"):
                expect(body).to_contain_text(cell)  # the gate table, not JSON behind a button
        except Exception:
            page.screenshot(path=str(log.parent / "failure.png"))  # what the browser showed, beside the log
            raise
        finally:
            browser.close()

    assert (lake / "kg" / "current").read_text().strip()  # the KG was promoted
    assert "Found a dagster instance configuration" not in log.read_text()  # no stray dagster.yaml
