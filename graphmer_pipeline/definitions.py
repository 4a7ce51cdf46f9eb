"""The one Definitions object: `dagster dev -w workspace.yaml` and `-m graphmer_pipeline.definitions`."""

import dagster as dg

from graphmer_pipeline.assets import corpus, kg
from graphmer_pipeline.checks import catalog_matches_manifest, kg_gates
from graphmer_pipeline.jobs import kg_rebuild
from graphmer_pipeline.resources import CorporaConfig, DataLake, QualityGates
from graphmer_pipeline.schedules import nightly_kg_rebuild

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([corpus, kg]),
    asset_checks=[kg_gates, catalog_matches_manifest],
    jobs=[kg_rebuild],
    schedules=[nightly_kg_rebuild],
    resources={"lake": DataLake(), "corpora": CorporaConfig(), "gates": QualityGates()},
)
