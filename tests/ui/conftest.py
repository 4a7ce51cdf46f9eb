"""Say why the browser test did not run, in `make test`'s summary, not only under `pytest -rs`."""


def pytest_terminal_summary(terminalreporter):
    for report in terminalreporter.stats.get("skipped", []):
        if "tests/ui/" in report.nodeid.replace("\\", "/") or "test_browser" in report.nodeid:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            terminalreporter.write_line(f"SKIPPED browser test: {reason.removeprefix('Skipped: ')}")
