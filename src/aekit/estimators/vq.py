"""The VQ-VAE (van den Oord et al. 2017): images -> grids of codebook indices, and a learned
prior over the grids so it generates (:mod:`aekit.models.vq`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from sklearn.utils.validation import check_is_fitted

from aekit.errors import ModelFileError, TrainingError
from aekit.estimators.base import BaseAutoencoder, on_own_threads, store_params
from aekit.estimators.params import documented
from aekit.estimators.stacked import ATTRIBUTES_DOC
from aekit.fitted import FittedQuantized
from aekit.losses import IndexPriorObjective, Objective, VQObjective
from aekit.models import VQConfig
from aekit.training.trainer import Trainer

VQ_ATTRIBUTES_DOC = ATTRIBUTES_DOC + """image_shape_ : tuple of int
    (C, H, W) the network lays each row out on.
grid_ : tuple of int
    (h, w) of each image's index grid (n_components_ = h * w indices per row).
perplexity_ : float
    Codebook perplexity of the training rows' codes after fit: exp of the entropy of the
    codes' frequencies, the number of codes in use as if used equally (up to
    codebook_size).
prior_history_ : list of dict
    Per-epoch loss (nats per index) of the prior's training.
"""


@documented(VQ_ATTRIBUTES_DOC)
class VQVAE(BaseAutoencoder):
    """Vector-quantised variational autoencoder (VQ-VAE, van den Oord et al. 2017): a conv
    encoder whose feature map is snapped cell by cell to the nearest of codebook_size
    learned vectors, and a conv decoder of the snapped map; the encoder learns through a
    straight-through gradient and a commitment term, the codebook by moving averages,
    with dead codes restarted. A small autoregressive prior (a PixelCNN) is then fitted
    to the training rows' index grids, so the model generates.

    transform gives each row's index grid (n_samples, h*w) as int64; inverse_transform
    decodes index grids; sample draws grids from the prior and decodes them;
    score_samples is minus the summed squared reconstruction error.
    """

    _image_input = True
    _BASE_EPOCHS = 20  # epochs='auto' on large data (see AUTO_STEPS on small)

    def __init__(self, image_shape=None, *, channels=(32, 64), codebook_size=128,
                 embedding_dim=16, decoder="transpose", activation="relu",
                 output_activation="auto", loss="mse", commitment=0.25, ema_decay=0.99,
                 prior_channels=64, prior_layers=4, prior_epochs="auto",
                 epochs="auto", batch_size=128, optimizer="adam", learning_rate=1e-3,
                 weight_decay=0.0, lr_schedule=None, warmup_epochs=0.0,
                 validation_fraction=0.0, early_stopping=None, grad_clip=None, engine="auto",
                 device="cpu", n_threads=None, random_state=None, verbose=False,
                 log_dir=None):
        store_params(self, locals())

    def _model_config(self, layout):
        return VQConfig(n_features=layout.module_features, image_shape=layout.image_shape,
                        hidden=tuple(self.channels), codebook_size=self.codebook_size,
                        embedding_dim=self.embedding_dim, activation=self.activation,
                        decoder=self.decoder,
                        output_activation=self._resolved("output_activation"),
                        ema_decay=float(self.ema_decay), prior_channels=self.prior_channels,
                        prior_layers=self.prior_layers)

    def _objective(self):
        return VQObjective(self.loss, float(self.commitment))

    def _fitted(self, module, layout) -> FittedQuantized:
        return FittedQuantized(module, objective=Objective(reconstruction=self.loss),
                               layout=layout, seed=self.seed_)

    def _collapse_check(self, module, layout, X):
        """None: its codes are indices, whose spread is not what a collapse check
        measures."""
        return None

    # --- fitting -------------------------------------------------------------------------
    @on_own_threads
    def fit(self, X, y=None, *, checkpoint_dir=None, resume=False):
        """Train the VQ-VAE on X for ``epochs``, then its prior on the training rows' index
        grids for ``prior_epochs``. ``y`` is ignored. ``checkpoint_dir``/``resume``: as
        :meth:`BaseAutoencoder.fit` (the prior's phase checkpoints in its sub-folder
        ``prior``)."""
        X, layout, module = self._start_fit(X)
        try:
            self._train(module, layout, X, self.epochs_, self.seed_,
                        checkpoint_dir=checkpoint_dir, resume=resume)
        except TrainingError:
            self.fitted_ = self._fitted(module, layout)
            raise
        self.fitted_ = self._fitted(module, layout)
        self._fit_prior(X, checkpoint_dir=checkpoint_dir, resume=resume)
        return self

    @on_own_threads
    def partial_fit(self, X, y=None):
        """One more epoch of the VQ-VAE over X (as :meth:`BaseAutoencoder.partial_fit`),
        then one more epoch of its prior on X's index grids."""
        super().partial_fit(X)
        self._fit_prior(self._validate_X(X, reset=False), epochs=1, continuing=True)
        return self

    def _fit_sampler(self, X) -> None:
        """The density is the prior, trained by :meth:`_fit_prior`."""

    def _fit_prior(self, X, *, epochs=None, continuing=False, checkpoint_dir=None,
                   resume=False) -> None:
        """Train the prior on X's index grids (a second run of the training loop; the
        autoencoder is fixed), and measure the codebook perplexity of X."""
        codes = torch.from_numpy(self.fitted_.encode(X))
        if epochs is None or not hasattr(self, "prior_epochs_"):
            self.prior_epochs_ = self._epochs("prior_epochs", len(X))
        epochs = self.prior_epochs_ if epochs is None else epochs
        trainer = getattr(self, "_prior_trainer", None) if continuing else None
        if trainer is None:
            self.prior_history_ = [] if not continuing else getattr(self, "prior_history_", [])
            config = dataclasses.replace(
                self._train_config(self.prior_epochs_, self.seed_ + 1),
                engine="autograd", validation_fraction=0.0, early_stopping=None,
                log_dir=None, weight_decay=0.0)
            trainer = Trainer(self.fitted_.module.prior, IndexPriorObjective(), config)
        self._prior_trainer = trainer
        prior = self.fitted_.module.prior
        done = len(trainer.result.history)
        where = None if checkpoint_dir is None else Path(checkpoint_dir) / "prior"
        until = trainer.epoch + epochs if continuing else None
        history = trainer.fit(codes, until=until, checkpoint_dir=where, resume=resume,
                              signature={"phase": "prior",
                                         "model": self.fitted_.module.config.to_dict()}
                              ).history[done:]
        prior.eval()
        self.prior_history_ = list(self.prior_history_) + history
        self.perplexity_ = float(self.fitted_.perplexity(X))

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_prior_trainer", None)
        return state

    # --- using ---------------------------------------------------------------------------
    @property
    def grid_(self) -> tuple:
        return self.fitted_.grid

    @on_own_threads
    def transform(self, X):
        """Index grids of X: (n_samples, h*w) int64, cells in raster order."""
        return super().transform(X)

    @on_own_threads
    def inverse_transform(self, X):
        """Decode index grids (n_samples, h*w) of whole numbers in [0, codebook_size) to
        flat data (n_samples, n_features_in_), float32."""
        return super().inverse_transform(X)

    @on_own_threads
    def perplexity(self, X) -> float:
        """Codebook perplexity of X's codes (see ``perplexity_``)."""
        check_is_fitted(self)
        return self.fitted_.perplexity(self._validate_X(X, reset=False))

    # --- saving --------------------------------------------------------------------------
    def _json_state(self) -> dict:
        state = super()._json_state()
        state["perplexity_"] = float(self.perplexity_)
        state["prior_epochs_"] = int(self.prior_epochs_)
        return state

    def _restore(self, fitted, state: dict, extra: dict) -> None:
        super()._restore(fitted, state, extra)
        value = state.get("perplexity_")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not 1 <= value <= fitted.codebook_size + 1e-6:
            raise ModelFileError(f"estimator state: perplexity_ must be a number in "
                                 f"[1, {fitted.codebook_size}], got {value!r}")
        self.perplexity_ = float(value)
        epochs = state.get("prior_epochs_")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ModelFileError(f"estimator state: prior_epochs_ must be a whole number >= 0,"
                                 f" got {epochs!r}")
        self.prior_epochs_ = epochs
        self.prior_history_ = []

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []  # transform gives int64 indices
        return tags
