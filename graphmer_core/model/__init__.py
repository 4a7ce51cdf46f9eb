"""GraphMER-SE encoder: leafy-chain attention with graph-distance bias, H-GAT, MLM/MNM heads and
neurosymbolic losses. Takes tensors (LeafyBatch), never files, and never imports the ontology."""

from graphmer_core.model.batch import BatchSizes, LeafyBatch
from graphmer_core.model.config import LEAVES_PER_ROOT, ModelConfig
from graphmer_core.model.encoder import EncoderOutput, GraphMEREncoder
from graphmer_core.model.pretraining import GraphMERForPretraining, PretrainOutput

__all__ = ["LEAVES_PER_ROOT", "BatchSizes", "EncoderOutput", "GraphMEREncoder", "GraphMERForPretraining",
           "LeafyBatch", "ModelConfig", "PretrainOutput"]
