"""The one Definitions object: `dagster dev -w workspace.yaml` and `-m graphmer_pipeline.definitions`."""

import dagster as dg

from graphmer_pipeline.assets import corpus, dataset, evaluation, kg, training
from graphmer_pipeline.checks import catalog_matches_manifest, dataset_gates, kg_gates
from graphmer_pipeline.jobs import JOBS
from graphmer_pipeline.pipes_reader import WholeLineTempFileMessageReader
from graphmer_pipeline.resources import CorporaConfig, DataLake, QualityGates, TrainingProfile
from graphmer_pipeline.schedules import nightly_kg_rebuild
from graphmer_pipeline.sensors import new_kg_version

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([corpus, kg, dataset, training, evaluation]),
    asset_checks=[kg_gates, catalog_matches_manifest, dataset_gates, training.checkpoints_verify,
                  evaluation.model_gates],
    jobs=JOBS,
    schedules=[nightly_kg_rebuild],
    sensors=[new_kg_version],
    resources={"lake": DataLake(), "corpora": CorporaConfig(), "gates": QualityGates(),
               "profile": TrainingProfile(),
               "pipes_subprocess_client": dg.PipesSubprocessClient(message_reader=WholeLineTempFileMessageReader())},
)
