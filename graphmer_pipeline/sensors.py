"""Freshness: when a newer KG version is promoted (say, by the nightly rebuild), a new dataset and
training run follow. Off by default: turn `new_kg_version` on under Automation in the UI."""

import dagster as dg

from graphmer_pipeline.jobs import train_on_new_kg
from graphmer_pipeline.resources import DataLake


@dg.sensor(job=train_on_new_kg, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Starts train_on_new_kg when kg/current names a KG version it has not trained on yet.")
def new_kg_version(context: dg.SensorEvaluationContext, lake: DataLake):
    version = lake.lake.current_version()
    if version is None:
        return dg.SkipReason("no KG has been promoted yet")
    if version == context.cursor:
        return dg.SkipReason(f"KG {version} already has its run")
    context.update_cursor(version)
    return dg.RunRequest(run_key=f"kg-{version}", tags={"graphmer/kg_version": version})
