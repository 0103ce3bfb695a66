"""Convolutional autoencoders for images."""

from __future__ import annotations

from aekit.estimators.base import BaseAutoencoder, store_params
from aekit.estimators.params import documented
from aekit.estimators.stacked import ATTRIBUTES_DOC
from aekit.models import ModelConfig

IMAGE_ATTRIBUTES_DOC = ATTRIBUTES_DOC + """image_shape_ : tuple of int
    (C, H, W) the network lays each row out on.
"""


@documented(IMAGE_ATTRIBUTES_DOC)
class ConvAutoencoder(BaseAutoencoder):
    """Convolutional autoencoder: conv + 2x2 max-pool blocks, an optional dense code, and
    a decoder that undoes each pooling.
    """

    _image_input = True

    def __init__(self, image_shape=None, *, channels=(16, 32, 64), n_components="auto",
                 decoder="transpose", activation="relu", code_activation=None,
                 output_activation="auto", noise=None, noise_level=0.0, sparsity=None,
                 sparsity_weight=0.0, sparsity_target=0.05, contractive=0.0,
                 rate_weight=0.0, loss="mse",
                 epochs="auto", batch_size=256, optimizer="adam", learning_rate=1e-3,
                 weight_decay=0.0, lr_schedule=None, warmup_epochs=0.0, validation_fraction=0.0,
                 early_stopping=None, grad_clip=None, engine="auto", sampler="gmm",
                 sampler_components=10, device="cpu", n_threads=None, random_state=None,
                 verbose=False, log_dir=None):
        store_params(self, locals())

    def _model_config(self, layout):
        return ModelConfig(n_features=layout.module_features, architecture="conv",
                           hidden=tuple(self.channels), code_size=self._code_size(),
                           activation=self.activation, code_activation=self.code_activation,
                           output_activation=self._resolved("output_activation"),
                           image_shape=layout.image_shape, decoder=self.decoder)
