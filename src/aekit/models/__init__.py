"""PyTorch modules of the autoencoder family (dense, tied, convolutional, variational, and
a VAE's priors)."""

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
from aekit.models.priors import PRIORS, VampPrior, kl_to_standard_normal

__all__ = [
    "ACTIVATIONS",
    "DECODER_KINDS",
    "Autoencoder",
    "ConvDecoder",
    "ConvEncoder",
    "DenseDecoder",
    "DenseEncoder",
    "ModelConfig",
    "PRIORS",
    "SegmentationNetwork",
    "TiedDenseDecoder",
    "VampPrior",
    "VariationalAutoencoder",
    "build_model",
    "kl_to_standard_normal",
]
