"""Pipes messages written in two halves (as a page boundary splits an append) arrive whole."""


import sys
import textwrap

import dagster as dg
import pytest

from graphmer_pipeline.pipes_reader import WholeLineTempFileMessageReader

CHILD = textwrap.dedent("""
    import json, time
    import dagster_pipes

    def write_in_halves(self, message):  # what a reader can see while an append crosses a page
        line = json.dumps(message) + "\\n"
        with open(self._path, "a", encoding="utf-8") as f:
            f.write(line[: len(line) // 2])
            f.flush()
            time.sleep(0.2)
            f.write(line[len(line) // 2:])

    dagster_pipes.PipesFileMessageWriterChannel.write_message = write_in_halves
    with dagster_pipes.open_dagster_pipes() as pipes:
        for i in range(3):
            pipes.log.info(f"message {i}")
        pipes.report_asset_materialization(metadata={"messages": 3})
""")


def _materialize(tmp_path, client: dg.PipesSubprocessClient) -> dg.ExecuteInProcessResult:
    script = tmp_path / "child.py"
    script.write_text(CHILD)

    @dg.asset
    def child(context: dg.AssetExecutionContext, pipes: dg.PipesSubprocessClient):
        return pipes.run(context=context, command=[sys.executable, str(script)]).get_materialize_result()

    return dg.materialize([child], resources={"pipes": client}, raise_on_error=False)


def test_messages_written_in_halves_arrive_whole(tmp_path):
    result = _materialize(tmp_path, dg.PipesSubprocessClient(message_reader=WholeLineTempFileMessageReader()))
    assert result.success
    [mat] = result.asset_materializations_for_node("child")
    assert mat.metadata["messages"].value == 3


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # its reader thread dies
def test_dagsters_own_reader_loses_them(tmp_path):
    """The behaviour the reader replaces: Dagster's reader parses the first half and dies."""
    result = _materialize(tmp_path, dg.PipesSubprocessClient())
    if result.success:
        mats = result.asset_materializations_for_node("child")
        assert not mats or "messages" not in mats[0].metadata
    else:
        pytest.skip("Dagster failed the step outright (also a loss of the messages)")
