import dagster as dg

# The KG assets with their checks; the nightly schedule runs this job.
kg_rebuild = dg.define_asset_job(
    "kg_rebuild",
    selection=dg.AssetSelection.groups("kg"),
    description="Rebuild the KG from the configured corpora, gate it, and promote it if the gates pass.",
)

# What follows a new KG version: its dataset, a training run, its evaluation and promotion.
train_on_new_kg = dg.define_asset_job(
    "train_on_new_kg",
    selection=dg.AssetSelection.groups("dataset", "training", "evaluation"),
    description="Build the profile's dataset from the current KG, train and evaluate on it, promote if it passes.",
)
