"""Convolutional autoencoders for images."""

from __future__ import annotations

from aekit.errors import ConfigError
from aekit.estimators.base import BaseAutoencoder, _positive_int, store_params
from aekit.estimators.stacked import ATTRIBUTES_DOC, OBJECTIVE_DOC, training_doc
from aekit.models import ModelConfig

IMAGE_DOC = """
    image_shape : tuple or None, default=None
        (H, W) or (C, H, W) of each image when X is flat (n_samples, C*H*W). X may also be
        an array (n, H, W) or (n, C, H, W), whose shape then gives the image shape. With
        flat X and no image_shape, each row is laid out row-major on the smallest square
        that survives the poolings, zero-padded (a 784-value row becomes 28x28); outputs
        are cropped back to the row's length.
    channels : tuple of int, default=(16, 32, 64)
        Channels of the conv layers; each is followed by a 2x2 max-pool.
"""


def check_image_params(est) -> None:
    if not isinstance(est.channels, (tuple, list)) or not est.channels:
        raise ConfigError(f"channels must be a non-empty tuple of ints, got {est.channels!r}")
    for c in est.channels:
        _positive_int("channels entries", c)
    shape = est.image_shape
    if shape is not None:
        if not isinstance(shape, (tuple, list)) or len(shape) not in (2, 3):
            raise ConfigError(f"image_shape must be (H, W) or (C, H, W), got {shape!r}")
        for s in shape:
            _positive_int("image_shape entries", s)


class ConvAutoencoder(BaseAutoencoder):
    __doc__ = ("""Convolutional autoencoder: conv + 2x2 max-pool blocks, an optional dense
    code, and a decoder that undoes each pooling.

    Parameters
    ----------""" + IMAGE_DOC + """    n_components : int or None, default=None
        Size of a dense code after the last feature map; None keeps the feature map itself
        as the code (n_components_ = channels[-1] * H' * W').
    decoder : {'transpose', 'upsample', 'unpool'}, default='transpose'
        Stride-2 transposed convs, nearest upsampling + conv, or max-unpooling with the
        encoder's pooling indices + conv.
    activation : str, default='relu'
    code_activation : str or None, default=None
    output_activation : {'sigmoid', 'linear'}, default='sigmoid'
""" + OBJECTIVE_DOC + training_doc() + ATTRIBUTES_DOC + """    image_shape_ : (C, H, W) used by the network
""")

    _image_input = True

    def __init__(self, image_shape=None, *, channels=(16, 32, 64), n_components=None,
                 decoder="transpose", activation="relu", code_activation=None,
                 output_activation="sigmoid", noise=None, noise_level=0.0, sparsity=None,
                 sparsity_weight=0.0, sparsity_target=0.05, contractive=0.0, loss="mse",
                 epochs=20, batch_size=256, optimizer="adam", learning_rate=1e-3,
                 weight_decay=0.0, lr_schedule=None, warmup_epochs=0.0, validation_fraction=0.0,
                 early_stopping=None, grad_clip=None, sampler="gmm", sampler_components=10,
                 device="cpu", random_state=None, verbose=False):
        store_params(self, locals())

    def _check_params(self):
        super()._check_params()
        check_image_params(self)

    def _model_config(self, layout):
        return ModelConfig(n_features=layout.module_features, architecture="conv",
                           hidden=tuple(self.channels), code_size=self.n_components,
                           activation=self.activation, code_activation=self.code_activation,
                           output_activation=self.output_activation,
                           image_shape=layout.image_shape, decoder=self.decoder)
