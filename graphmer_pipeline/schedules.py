import os

import dagster as dg

from graphmer_pipeline.jobs import kg_rebuild

# Nightly at 02:00, UTC unless GRAPHMER_KG_REBUILD_CRON / GRAPHMER_KG_REBUILD_TZ say otherwise.
nightly_kg_rebuild = dg.ScheduleDefinition(
    name="nightly_kg_rebuild",
    job=kg_rebuild,
    cron_schedule=os.environ.get("GRAPHMER_KG_REBUILD_CRON", "0 2 * * *"),
    execution_timezone=os.environ.get("GRAPHMER_KG_REBUILD_TZ", "UTC"),
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
