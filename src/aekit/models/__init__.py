"""PyTorch modules of the autoencoder family (dense, tied, convolutional, variational, and
a VAE's priors), the VQ-VAE and the segmentation network."""

from aekit.models.autoencoder import Autoencoder, ModelConfig, VariationalAutoencoder
from aekit.models.build import build_model, config_from_dict, module_class
from aekit.models.conv import DECODER_KINDS, ConvDecoder, ConvEncoder
from aekit.models.dense import DenseDecoder, DenseEncoder, TiedDenseDecoder
from aekit.models.heads import CodeHead
from aekit.models.layers import ACTIVATIONS
from aekit.models.priors import PRIORS, VampPrior, kl_to_standard_normal
from aekit.models.segmentation import MAX_CLASSES, SegmentationConfig, SegmentationNetwork
from aekit.models.vq import IndexPrior, VQAutoencoder, VQConfig, VectorQuantizer

__all__ = [
    "ACTIVATIONS",
    "DECODER_KINDS",
    "Autoencoder",
    "CodeHead",
    "ConvDecoder",
    "ConvEncoder",
    "DenseDecoder",
    "DenseEncoder",
    "IndexPrior",
    "MAX_CLASSES",
    "ModelConfig",
    "PRIORS",
    "SegmentationConfig",
    "SegmentationNetwork",
    "TiedDenseDecoder",
    "VampPrior",
    "VQAutoencoder",
    "VQConfig",
    "VariationalAutoencoder",
    "VectorQuantizer",
    "build_model",
    "config_from_dict",
    "kl_to_standard_normal",
    "module_class",
]
