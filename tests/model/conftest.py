import pytest

from graphmer_core.model import ModelConfig


@pytest.fixture
def tiny() -> ModelConfig:
    return ModelConfig.tiny(antisymmetric_relation_ids=(1, 2, 3), hierarchy_relation_ids=(2, 3))
