"""Variational autoencoders (Kingma & Welling 2014), dense or convolutional; beta-VAE via
beta."""

from __future__ import annotations

import dataclasses

from aekit.estimators.base import BaseAutoencoder, on_own_threads, store_params
from aekit.estimators.conv import IMAGE_ATTRIBUTES_DOC
from aekit.estimators.params import documented
from aekit.models import ModelConfig

# weight_decay='auto' with a Gaussian likelihood: this many times StackedAutoencoder's prior,
# in nats (chosen from 0.3 / 1 / 3 / 10 on validation splits of wine and breast-cancer, and
# again by 5-fold cross-validation of their training rows from 1 / 3 / 10 / 30, at 500 and at
# 1000 auto epochs: 3 best or tied best each time).
GAUSSIAN_DECAY = 3.0


@documented(IMAGE_ATTRIBUTES_DOC)
class VariationalAutoencoder(BaseAutoencoder):
    """Variational autoencoder: q(z|x) = N(mu(x), diag sigma^2(x)), prior N(0, I) or a
    VampPrior (prior='vamp'), decoder p(x|z) Bernoulli or Gaussian. Trained on the
    negative ELBO -log p(x|z) + beta * KL(q(z|x) || p(z)) in nats per sample, or with
    importance_samples=k > 1 on the k-sample importance-weighted bound (IWAE).

    transform returns the posterior mean mu; sample decodes draws from the prior;
    score_samples is the ELBO. The network is dense (hidden_layer_sizes) or, with
    architecture='conv', convolutional (image_shape, channels, decoder).
    """

    _image_input = True

    def __init__(self, n_components=2, *, architecture="dense", hidden_layer_sizes=(256,),
                 image_shape=None, channels=(32, 64), decoder="transpose", activation="relu",
                 beta=1.0, likelihood="auto", likelihood_scale=0.1, kl_warmup_epochs=0,
                 importance_samples=1, binarize=None, tc_weight=1.0, prior="standard",
                 n_pseudo_inputs=500,
                 n_mc_samples=8, epochs="auto", batch_size=256, optimizer="adam",
                 learning_rate=1e-3, weight_decay="auto", lr_schedule=None, warmup_epochs=0.0,
                 validation_fraction=0.0, early_stopping=None, grad_clip=None, engine="auto",
                 device="cpu", n_threads=None, random_state=None, verbose=False, log_dir=None):
        store_params(self, locals())

    def _resolve_auto(self, X) -> None:
        """weight_decay='auto': the base prior (``auto_weight_decay``) in the ELBO's units
        for a Gaussian likelihood, none for a Bernoulli one (see the parameter's doc)."""
        super()._resolve_auto(X)
        self._n_train_rows = len(X)  # beta-TCVAE's N (see _objective)
        if self.weight_decay == "auto":
            if self.likelihood_ == "gaussian":
                nats_per_mse = X.shape[1] / (2 * self.likelihood_scale ** 2)
                self.weight_decay_ = GAUSSIAN_DECAY * nats_per_mse * self.weight_decay_
            else:
                self.weight_decay_ = 0.0

    def _objective(self):
        """The table's objective, with the training rows as the beta-TCVAE estimator's
        dataset size N (minibatch-weighted sampling) when tc_weight is not 1."""
        objective = super()._objective()
        n = getattr(self, "_n_train_rows", 0)
        if objective.tc_weight != 1 and n:
            objective = dataclasses.replace(objective, dataset_size=int(n))
        return objective

    def _needs_unit_range(self):
        return self._resolved("likelihood") == "bernoulli"

    def _model_config(self, layout):
        conv = self.architecture == "conv"
        return ModelConfig(
            n_features=layout.module_features, architecture=self.architecture,
            hidden=tuple(self.channels if conv else self.hidden_layer_sizes),
            code_size=self.n_components, activation=self.activation,
            output_activation="sigmoid" if self._resolved("likelihood") == "bernoulli" else "linear",
            image_shape=layout.image_shape if conv else None,
            decoder=self.decoder, variational=True, prior=self.prior,
            n_pseudo_inputs=self.n_pseudo_inputs if self.prior == "vamp" else None)

    def _fit_sampler(self, X):
        """The prior (N(0, I), or the VampPrior inside the module) is the density
        (fitted_.density): nothing to fit."""

    @on_own_threads
    def score_samples(self, X):
        """ELBO of each row in nats (higher = more normal), shape (n_samples,), float64:
        E_q[log p(x|z)] - KL(q(z|x) || p(z)) with beta = 1 (the true bound on
        log p(x), whatever beta was trained with), summed over features.

        The KL is exact (closed form) for the N(0, I) prior; for a VampPrior it is
        estimated at the same draws (log q(z|x) - log p(z)); the expectation is a Monte Carlo mean over
        n_mc_samples draws eps_s ~ N(0, I) shared by all rows (common random numbers
        from the fitted seed), z_s = mu + sigma * eps_s, so scores are deterministic and do
        not depend on the other rows (computed in float64).
        """
        return super().score_samples(X)

    @on_own_threads
    def sample(self, n_samples=1, random_state=None):
        """n_samples draws from the generative model (n_samples, n_features_in_),
        float32: z ~ p(z) (N(0, I), or for a VampPrior a pseudo-input's posterior chosen
        uniformly), returned as the decoder's mean E[x|z]."""
        return super().sample(n_samples, random_state)
