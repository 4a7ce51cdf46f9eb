import dagster as dg

# The KG assets with their checks; the nightly schedule runs this job.
kg_rebuild = dg.define_asset_job(
    "kg_rebuild",
    selection=dg.AssetSelection.groups("kg"),
    description="Rebuild the KG from the configured corpora, gate it, and promote it if the gates pass.",
)
