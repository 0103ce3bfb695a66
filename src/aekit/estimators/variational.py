"""Variational autoencoders (Kingma & Welling 2014), dense or convolutional; beta-VAE via
``beta``."""

from __future__ import annotations

from aekit.errors import ConfigError
from aekit.estimators.base import BaseAutoencoder, _positive_int, store_params
from aekit.estimators.conv import IMAGE_DOC, check_image_params
from aekit.models import ModelConfig


class VariationalAutoencoder(BaseAutoencoder):
    __doc__ = ("""Variational autoencoder: q(z|x) = N(mu(x), diag sigma^2(x)), prior N(0, I),
    decoder p(x|z) Bernoulli or Gaussian. Trained on the negative ELBO
    ``-log p(x|z) + beta * KL(q(z|x) || N(0, I))`` in nats per sample.

    ``transform`` returns the posterior mean mu; ``sample`` decodes draws from the prior;
    ``score_samples`` is the ELBO.

    Parameters
    ----------
    n_components : int, default=2
        Latent dimension.
    architecture : {'dense', 'conv'}, default='dense'
    hidden_layer_sizes : tuple of int, default=(256,)
        Dense encoder widths (architecture='dense').
""" + IMAGE_DOC.replace("(16, 32, 64)", "(32, 64)") + """        Used when architecture='conv'.
    decoder : {'transpose', 'upsample'}, default='transpose'
        Conv decoder ('unpool' needs encoder indices, which prior samples lack).
    activation : str, default='relu'
    beta : float, default=1.0
        Weight of the KL term (beta-VAE when != 1).
    likelihood : {'bernoulli', 'gaussian'}, default='bernoulli'
        'bernoulli' (sigmoid output) needs X in [0, 1]; 'gaussian' has a linear output and
        fixed standard deviation ``likelihood_scale``.
    likelihood_scale : float, default=0.1
    kl_warmup_epochs : int, default=0
        beta ramps up linearly over this many epochs.
    n_mc_samples : int, default=8
        Monte Carlo draws of z per row in ``score_samples``.
    epochs : int, default=20
    batch_size (256), optimizer, learning_rate (1e-3), weight_decay, lr_schedule (None),
    warmup_epochs (0.0), validation_fraction, early_stopping, grad_clip, device, random_state, verbose :
        as in :class:`StackedAutoencoder`.
""")

    _image_input = True

    def __init__(self, n_components=2, *, architecture="dense", hidden_layer_sizes=(256,),
                 image_shape=None, channels=(32, 64), decoder="transpose", activation="relu",
                 beta=1.0, likelihood="bernoulli", likelihood_scale=0.1, kl_warmup_epochs=0,
                 n_mc_samples=8, epochs=20, batch_size=256, optimizer="adam",
                 learning_rate=1e-3, weight_decay=0.0, lr_schedule=None, warmup_epochs=0.0,
                 validation_fraction=0.0, early_stopping=None, grad_clip=None, device="cpu",
                 random_state=None, verbose=False):
        store_params(self, locals())

    def _check_params(self):
        super()._check_params()
        if self.architecture not in ("dense", "conv"):
            raise ConfigError(f"architecture must be 'dense' or 'conv', got {self.architecture!r}")
        if self.architecture == "conv":
            check_image_params(self)
        _positive_int("n_mc_samples", self.n_mc_samples)

    def _needs_unit_range(self):
        return self.likelihood == "bernoulli"

    def _model_config(self, layout):
        conv = self.architecture == "conv"
        return ModelConfig(
            n_features=layout.module_features, architecture=self.architecture,
            hidden=tuple(self.channels if conv else self.hidden_layer_sizes),
            code_size=self.n_components, activation=self.activation,
            output_activation="sigmoid" if self.likelihood == "bernoulli" else "linear",
            image_shape=layout.image_shape if conv else None,
            decoder=self.decoder, variational=True)

    def _fit_sampler(self, X):
        """The prior N(0, I) is the density (``fitted_.density``): nothing to fit."""

    def score_samples(self, X):
        """ELBO of each row in nats (higher = more normal), shape (n_samples,), float64:
        ``E_q[log p(x|z)] - KL(q(z|x) || N(0, I))`` with beta = 1 (the true bound on
        log p(x), whatever ``beta`` was trained with), summed over features.

        The KL is exact (closed form); the expectation is a Monte Carlo mean over
        ``n_mc_samples`` draws eps_s ~ N(0, I) shared by all rows (common random numbers
        from the fitted seed), z_s = mu + sigma * eps_s, so scores are deterministic and do
        not depend on the other rows (computed in float64).
        """
        return super().score_samples(X)

    def sample(self, n_samples=1, random_state=None):
        """``n_samples`` draws from the generative model (n_samples, n_features_in_),
        float32: z ~ N(0, I), returned as the decoder's mean E[x|z]."""
        return super().sample(n_samples, random_state)
