"""A linear autoencoder: the neural counterpart of PCA."""

from __future__ import annotations

from aekit.estimators.base import BaseAutoencoder, store_params
from aekit.estimators.params import documented
from aekit.estimators.stacked import ATTRIBUTES_DOC
from aekit.models import ModelConfig


@documented(ATTRIBUTES_DOC)
class LinearAutoencoder(BaseAutoencoder):
    """Autoencoder with one linear encoder layer and one linear decoder layer, MSE loss.

    Trained to its minimum, x_hat = W_dec W_enc x spans the same subspace as PCA's first
    n_components components (Baldi & Hornik 1989): the codes are an (unordered,
    non-orthogonal) basis of that subspace, so the reconstruction error approaches PCA's.
    No output non-linearity: any real-valued X is accepted. Centre X for the closest match
    (the biases learn the mean, but optimisation is faster on centred data).
    """

    _BASE_EPOCHS = 50  # epochs='auto'

    def __init__(self, n_components="auto", *, tied=False, epochs="auto", batch_size=256,
                 optimizer="adam", learning_rate=1e-2, weight_decay=0.0, lr_schedule="cosine",
                 warmup_epochs=0.0, validation_fraction=0.0, early_stopping=None, grad_clip=None,
                 engine="auto", sampler="gmm", sampler_components=10, device="cpu",
                 random_state=None, verbose=False, log_dir=None):
        store_params(self, locals())

    def _model_config(self, layout):
        return ModelConfig(n_features=layout.module_features, hidden=(), code_size=self._code_size(),
                           activation="linear", code_activation="linear",
                           output_activation="linear", tied=bool(self.tied))
