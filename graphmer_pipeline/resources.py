"""Typed resources: where the lake is, which corpora to read, which training profile to follow."""

import os

import dagster as dg

from graphmer_core.corpus.config import DEFAULT_CONFIG, load_corpora
from graphmer_core.corpus.discovery import Corpus
from graphmer_core.kg.quality import DEFAULT_GATES, GateThresholds
from graphmer_core.lake import Lake, default_lake_root
from graphmer_core.train.profiles import DEFAULT_PROFILES, Profile, load_profile


class DataLake(dg.ConfigurableResource):
    """The data lake root (default: data_lake/ of the repository, or $GRAPHMER_LAKE)."""

    root: str = str(default_lake_root())

    @property
    def lake(self) -> Lake:
        return Lake(self.root)


class CorporaConfig(dg.ConfigurableResource):
    """The corpora to build from, read from a YAML file (configs/corpora.yaml by default)."""

    path: str = str(DEFAULT_CONFIG)

    def load(self, log=None) -> list[Corpus]:
        corpora = load_corpora(self.path)
        present = [c for c in corpora if c.root.is_dir()]
        for c in corpora:
            if c not in present and log is not None:
                log.warning(f"corpus {c.name!r} skipped: {c.root} does not exist (run `make corpora`)")
        if not present:
            raise FileNotFoundError(f"none of the corpora in {self.path} exist on disk")
        return present




class QualityGates(dg.ConfigurableResource):
    """Thresholds of the KG quality gates (Great Expectations suites); defaults from GateThresholds.
    A version already gated under the same thresholds keeps its recorded verdict unless `regate`."""

    min_entities_per_file: float = DEFAULT_GATES.min_entities_per_file
    max_entities_per_file: float = DEFAULT_GATES.max_entities_per_file
    min_triples_per_entity: float = DEFAULT_GATES.min_triples_per_entity
    max_triples_per_entity: float = DEFAULT_GATES.max_triples_per_entity
    domain_range_valid_share: float = DEFAULT_GATES.domain_range_valid_share
    max_inheritance_cycles: int = DEFAULT_GATES.max_inheritance_cycles
    max_relation_drop: float = DEFAULT_GATES.max_relation_drop
    relation_drop_min_triples: int = DEFAULT_GATES.relation_drop_min_triples
    regate: bool = False

    def thresholds(self) -> GateThresholds:
        return GateThresholds(**self.model_dump(exclude={"regate"}))


class TrainingProfile(dg.ConfigurableResource):
    """The training profile the dataset, training and evaluation assets follow (one setting for the
    whole chain): `name` in `path` (configs/profiles.yaml). Default cpu-small, or $GRAPHMER_PROFILE."""

    name: str = os.environ.get("GRAPHMER_PROFILE", "cpu-small")
    path: str = str(DEFAULT_PROFILES)

    def load(self) -> Profile:
        return load_profile(self.name, self.path)
