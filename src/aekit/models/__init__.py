"""PyTorch modules of the autoencoder family (dense, tied, convolutional, variational)."""

from aekit.models.autoencoder import (
    Autoencoder,
    ModelConfig,
    SegmentationNetwork,
    VariationalAutoencoder,
    build_model,
)
from aekit.models.conv import DECODER_KINDS, ConvDecoder, ConvEncoder
from aekit.models.dense import DenseDecoder, DenseEncoder, TiedDenseDecoder
from aekit.models.layers import ACTIVATIONS

__all__ = [
    "ACTIVATIONS",
    "DECODER_KINDS",
    "Autoencoder",
    "ConvDecoder",
    "ConvEncoder",
    "DenseDecoder",
    "DenseEncoder",
    "ModelConfig",
    "SegmentationNetwork",
    "TiedDenseDecoder",
    "VariationalAutoencoder",
    "build_model",
]
