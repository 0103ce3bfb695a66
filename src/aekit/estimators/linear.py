"""A linear autoencoder: the neural counterpart of PCA."""

from __future__ import annotations

from aekit.estimators.base import BaseAutoencoder, store_params
from aekit.estimators.stacked import MONITOR_DOC
from aekit.models import ModelConfig


class LinearAutoencoder(BaseAutoencoder):
    __doc__ = ("""Autoencoder with one linear encoder layer and one linear decoder layer, MSE loss.

    Trained to its minimum, x_hat = W_dec W_enc x spans the same subspace as PCA's first
    ``n_components`` components (Baldi & Hornik 1989): the codes are an (unordered,
    non-orthogonal) basis of that subspace, so the reconstruction error approaches PCA's.
    No output non-linearity: any real-valued X is accepted. Centre X for the closest match
    (the biases learn the mean, but optimisation is faster on centred data).

    Parameters
    ----------
    n_components : int, default=30
        Size of the code (as in PCA).
    tied : bool, default=False
        Decoder weight W_dec = W_enc^T (fewer parameters; exactly PCA's tied form).
    epochs : int, default=50
        Passes over the data.
    batch_size : int, default=256
    optimizer : {'adam', 'adamw', 'sgd'}, default='adam'
    learning_rate : float, default=1e-2
        Larger than the deep estimators' default: the loss surface of a linear AE is benign.
    weight_decay : float, default=0.0
    lr_schedule : {None, 'cosine', 'plateau'}, default='cosine'
    warmup_epochs : float, default=0.0
        Linear learning-rate warm-up over this many epochs (per step).
""" + MONITOR_DOC + """    sampler : {'gmm', 'gaussian', 'uniform'}, default='gmm'
        Density fitted on the training codes, used by :meth:`sample`.
    sampler_components : int, default=10
        Mixture components of the 'gmm' sampler.
    device : str, default='cpu'
    random_state : int, RandomState or None, default=None
        Seeds initial weights, shuffling and the sampler fit.
    verbose : bool, default=False
        Show a progress bar.

    Attributes
    ----------
    fitted_ : aekit.fitted.FittedAutoencoder (module_ = fitted_.module)
    n_components_, n_features_in_, feature_names_in_, history_ (one dict per epoch),
    n_iter_ (epochs trained), sampler_, seed_.
    """)

    def __init__(self, n_components=30, *, tied=False, epochs=50, batch_size=256,
                 optimizer="adam", learning_rate=1e-2, weight_decay=0.0, lr_schedule="cosine",
                 warmup_epochs=0.0, validation_fraction=0.0, early_stopping=None, grad_clip=None,
                 sampler="gmm", sampler_components=10, device="cpu", random_state=None,
                 verbose=False):
        store_params(self, locals())

    def _model_config(self, layout):
        return ModelConfig(n_features=layout.module_features, hidden=(), code_size=self.n_components,
                           activation="linear", code_activation="linear",
                           output_activation="linear", tied=bool(self.tied))
