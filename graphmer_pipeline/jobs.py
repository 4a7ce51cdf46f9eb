"""A named job per asset group, so a run launched from the UI or the shell carries the group's name
on the Runs timeline, and jobs that re-run the gates alone on the current versions."""

import dagster as dg

from graphmer_pipeline.checks import dataset_gates, kg_gates

GROUPS = {
    "corpora": ("corpora_parse", "Index and parse one corpus (a partition) into the shared parse cache."),
    "kg": ("kg_rebuild", "Rebuild the KG from the configured corpora, gate it, and promote it if the gates pass."),
    "dataset": ("dataset_build", "Build the profile's dataset (splits, tokenizer, sequences) from the current KG."),
    "training": ("model_training", "Train the profile's model on the current dataset and verify its checkpoints."),
    "evaluation": ("model_evaluation", "Evaluate the newest runs beside the baselines; promote a model that passes."),
}

corpora_parse, kg_rebuild, dataset_build, model_training, model_evaluation = (
    dg.define_asset_job(name, selection=dg.AssetSelection.groups(group), description=description)
    for group, (name, description) in GROUPS.items())

# What follows a new KG version: its dataset, a training run, its evaluation and promotion.
train_on_new_kg = dg.define_asset_job(
    "train_on_new_kg",
    selection=dg.AssetSelection.groups("dataset", "training", "evaluation"),
    description="Build the profile's dataset from the current KG, train and evaluate on it, promote if it passes.",
)

# The gates alone, on what is there now: the staged candidate, else the promoted KG; the dataset of
# the current KG. For new thresholds (the `gates` resource) without a rebuild.
recheck_gates = dg.define_asset_job(
    "recheck_gates",
    selection=dg.AssetSelection.checks(kg_gates, dataset_gates),
    description="Re-run the KG and dataset quality gates on the current versions, without materializing anything.",
)

JOBS = [corpora_parse, kg_rebuild, dataset_build, model_training, model_evaluation, train_on_new_kg, recheck_gates]
