import pytest
import torch

from graphmer_core.model import ModelConfig


@pytest.fixture
def tiny() -> ModelConfig:
    return ModelConfig.tiny(antisymmetric_relation_ids=(1, 2, 3), hierarchy_relation_ids=(2, 3))


@pytest.fixture
def one_thread():
    """Small models train faster on one thread, and a second thread stalls when others load the CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
