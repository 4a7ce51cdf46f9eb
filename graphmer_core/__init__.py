"""GraphMER-SE core library: corpus -> parsing -> kg -> data -> model -> train -> eval.

Never imports Dagster: it runs from the CLI, notebooks and torchrun alike.
"""

__version__ = "0.1.0"
