import dagster as dg

# The KG assets with their checks; the nightly schedule runs this job.
kg_rebuild = dg.define_asset_job(
    "kg_rebuild",
    selection=dg.AssetSelection.groups("kg"),
    description="Rebuild the KG from the configured corpora, gate it, and promote it if the gates pass.",
)

# What follows a new KG version: its dataset, a training run, the checkpoint assets.
train_on_new_kg = dg.define_asset_job(
    "train_on_new_kg",
    selection=dg.AssetSelection.groups("dataset", "training"),
    description="Build the profile's dataset from the current KG, train on it and verify the checkpoints.",
)
