"""What every aekit estimator shares: option plumbing, input checks, training, saving.

Estimators are thin scikit-learn facades (scikit-learn's ``_pca.py`` + ``_base.py``):
``__init__`` stores its arguments; ``fit`` validates them and the data, builds the network
with :func:`aekit.models.build_model`, trains it with :func:`aekit.training.train` and keeps
the result as ``fitted_``, a :class:`aekit.fitted.FittedAutoencoder`. Every method that takes
X checks that the estimator is fitted and that X has the columns seen in ``fit`` (scikit-
learn's ``validate_data``), then delegates to ``fitted_``: the same methods every other
entry point uses. Each estimator module only says which network and objective it builds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from aekit.errors import AekitError, ConfigError, DataError, ModelFileError, TrainingError
# Keyword -> TrainConfig / Objective field (one mapping serves fit, partial_fit and saving)
# and the checks of every keyword: all from the parameter table.
from aekit.estimators.params import (
    OBJECTIVE_PARAMS, TABLE, TRAIN_PARAMS, check_params, device_problem, internal, model_of,
)
from aekit.estimators.streamed import (
    BLOCK_ROWS, StreamedRows, array_blocks, as_rows, mean_variance,
)
from aekit.fitted import FittedAutoencoder, FittedModel, InputLayout
from aekit.losses import Objective
from aekit.models import build_model
from aekit.training import TrainConfig, greedy_layerwise, threads
from aekit.training.collapse import CollapseCheck, check_rows
from aekit.training.trainer import Trainer

log = logging.getLogger(__name__)


def on_own_threads(method):
    """Run ``method`` with the estimator's ``n_threads`` as the count of every training
    and inference call it makes (None: aekit's policy; aekit.training.threads)."""
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with threads.for_calls(self.n_threads):
            return method(self, *args, **kwargs)
    return call


def store_params(estimator, params: dict) -> None:
    """``__init__`` body: store every argument as given (scikit-learn's contract)."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


def _positive_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def auto_code_size(n_features: int) -> int:
    """n_components='auto': a quarter of the features, at least 2 and at most 30 (the
    lecture's Fashion-MNIST code). A code as wide as the data is no bottleneck: PCA with
    that many components reconstructs it exactly."""
    return int(min(30, max(2, -(-int(n_features) // 4))))


# epochs='auto': the model's usual number of epochs, raised on small data to make
# AUTO_STEPS optimizer steps (at most AUTO_MAX_EPOCHS): a budget counted in epochs alone
# gives a 100-row table one step per epoch, far from trained. The cap for reconstruction
# (1000) was chosen by 5-fold cross-validation on the training rows of wine and
# breast-cancer: against 500 it lowered StackedAutoencoder's and the VAE's validation
# error on both (wine 0.910 -> 0.881 and 0.959 -> 0.922 of PCA's), 2000 changed nothing;
# digits and Fashion-MNIST are not capped. The classifier's supervised phases (labelled
# rows only) keep the 500 they were chosen with.
AUTO_STEPS = 2000
AUTO_MAX_EPOCHS = 1000
AUTO_BASE_EPOCHS = {"pretrain_epochs": 20, "head_epochs": 30, "finetune_epochs": 30,
                    "joint_epochs": 10, "prior_epochs": 10}
AUTO_PHASE_MAX_EPOCHS = {"head_epochs": 500, "finetune_epochs": 500}  # else AUTO_MAX_EPOCHS
# The few-label methods' joint phase on small data: 1000 steps (each runs two encoders and
# a decoder). On validation splits of digits (50 labels) the ladder's accuracy had
# levelled off after about 600.
# The VQ-VAE's PixelCNN prior on small data: 250 steps. On validation rows of digits and
# 2000 Fashion-MNIST images its bits per grid rose with every longer budget (digits 18.6 at
# 250 steps, 25.1 at 2000: the prior overfits a few thousand grids);
# benchmarks/results/vq_prior_budget.md.
AUTO_PHASE_STEPS = {"joint_epochs": 1000, "prior_epochs": 250}  # else AUTO_STEPS
# (epochs itself: the estimator's _BASE_EPOCHS)


# weight_decay='auto' (StackedAutoencoder; the VAE rescales it to nats): AUTO_DECAY x mean
# feature variance / rows. MAP with a Gaussian prior on the weights: the prior's share of
# the objective falls as 1/n, and the variance makes it unit-free. 0.5 was chosen on
# validation splits of the training rows of digits, Fashion-MNIST, breast-cancer and wine
# (0.3 under-regularises wine, 1.0 costs digits 15%); benchmarks/defaults.py reports the
# test rows.
AUTO_DECAY = 0.5


# The mean feature variance of weight_decay='auto' is measured on at most this many evenly
# spaced rows (an array's or a streamed file's alike): a prior's scale needs no more than
# ~1% precision, and the pass over all 60,000 Fashion-MNIST rows took 0.08 s of a 3-epoch
# fit's 0.3 s outside its epochs (issue 27).
VARIANCE_ROWS = 10_000


def auto_weight_decay(X, n_train: int) -> float:
    """weight_decay='auto' for training on ``n_train`` rows of X: an array, or streamed
    rows (whose validation scan gave the variance of a small file: it is not read again)."""
    if len(X) > VARIANCE_ROWS:  # read in small blocks: no large temporaries to fault in
        index = np.linspace(0, len(X) - 1, VARIANCE_ROWS).astype(np.int64)
        variance = mean_variance(np.asarray(X[index[i:i + 1024]])
                                 for i in range(0, len(index), 1024))
    elif isinstance(X, StreamedRows):
        variance = X.mean_variance()
    else:
        variance = mean_variance(array_blocks(X))
    return float(AUTO_DECAY * variance / max(int(n_train), 1))


def auto_epochs(base: int, n_rows: int, batch_size: int, cap: int = AUTO_MAX_EPOCHS,
                total_steps: int = AUTO_STEPS) -> int:
    """Epochs for 'auto': ``base``, or enough for ``total_steps`` steps of ``batch_size``
    rows over ``n_rows`` rows (at most ``cap``, never below ``base``)."""
    steps = max(1, -(-int(n_rows) // int(batch_size)))
    return int(max(base, min(cap, -(-int(total_steps) // steps))))


class AutoencoderMixin:
    """Option plumbing and training shared by transformers and the classifier. Subclasses
    define ``_model_config(layout) -> ModelConfig`` (layout: :class:`InputLayout`)."""

    _image_input = False  # True: accepts (n, H, W) / (n, C, H, W) arrays and image_shape
    # Keywords added after model folders were saved without them, with the value that gives
    # those folders' behaviour (aekit.load fills a missing one in).
    _PARAMS_BEFORE: dict = {}

    # --- what this kind declares (the parameter table; aekit.kinds) --------------------
    @classmethod
    def _kind_name(cls) -> str:
        return model_of(cls)

    def _has(self, name: str) -> bool:
        """Whether this kind has keyword ``name``, as the parameter table declares it; a
        name the table lacks is a KeyError (a misspelt option never reads as absent)."""
        return self._kind_name() in TABLE[name].defaults

    def _option(self, name: str, absent=None):
        """Option ``name``'s value, or ``absent`` for a kind declared without it."""
        return getattr(self, name) if self._has(name) else absent

    # --- options -----------------------------------------------------------------------
    # 'auto' options, resolved from the training data by ``_resolve_auto``: (the choice for
    # data in [0, 1], the choice for any other real values).
    _AUTO = {"output_activation": ("sigmoid", "linear"), "likelihood": ("bernoulli", "gaussian")}

    def _resolved(self, name: str) -> str:
        """The value option ``name`` trains with: itself, or for 'auto' the fitted choice
        (``name + '_'``; before fit, the unit-range choice stands in for validation)."""
        value = getattr(self, name)
        if value != "auto":
            return value
        return getattr(self, name + "_", self._AUTO[name][0])

    _BASE_EPOCHS = 20  # epochs='auto' on large data (LinearAutoencoder: 50)

    def _epochs(self, name: str = "epochs", n_rows: int | None = None,
                batch_size: int | None = None) -> int:
        """The number of epochs option ``name`` trains for: its value, or for 'auto' the
        count for ``n_rows`` rows at ``batch_size`` rows per step (``auto_epochs``; the
        training rows, less the validation split). Without rows (checking options before
        fit): the base count."""
        value = getattr(self, name)
        if value != "auto":
            return value
        base = self._BASE_EPOCHS if name == "epochs" else AUTO_BASE_EPOCHS[name]
        if n_rows is None:
            return base
        return auto_epochs(base, max(self._n_train(n_rows), 1), batch_size or self._batch_size(),
                           AUTO_PHASE_MAX_EPOCHS.get(name, AUTO_MAX_EPOCHS),
                           AUTO_PHASE_STEPS.get(name, AUTO_STEPS))

    def _n_train(self, n_rows: int) -> int:
        """Rows left for training by validation_fraction (what the 'auto' options count)."""
        return int(n_rows * (1 - (self._option("validation_fraction", 0.0) or 0.0)))

    def _code_size(self):
        """The code size the network is built with: n_components, or for 'auto' the size
        chosen from the training data's width (``_resolve_auto``; a loaded model's
        n_components_)."""
        if self.n_components != "auto":
            return self.n_components
        return self._auto_code_size

    def _resolve_auto(self, X: np.ndarray) -> None:
        """Record ``output_activation_`` / ``likelihood_``: an explicit value as given;
        'auto' becomes the unit-range choice (sigmoid / Bernoulli, which model values in
        [0, 1] as probabilities) when every value of X lies in [0, 1], else the real-valued
        one (linear / Gaussian), so standardised data works as it does with PCA."""
        if self._option("n_components") == "auto":
            self._auto_code_size = auto_code_size(X.shape[1])
        if self._option("weight_decay") == "auto":  # (stacked; the VAE rescales it)
            self.weight_decay_ = auto_weight_decay(X, self._n_train(len(X)))
        unit = None
        for name, (in_unit, real) in self._AUTO.items():
            if not self._has(name):
                continue
            value = getattr(self, name)
            if value == "auto":
                if unit is None:
                    unit = bool(len(X)) and float(X.min()) >= 0 and float(X.max()) <= 1
                value = in_unit if unit else real
            setattr(self, name + "_", value)

    def _objective(self) -> Objective:
        kw = internal(self, OBJECTIVE_PARAMS)
        if "likelihood" in kw:
            kw["likelihood"] = self._resolved("likelihood")
        return Objective(**kw)

    def _batch_size(self) -> int:
        """Rows per training step (a kind may resolve a None); a numpy integer as int."""
        return int(self.batch_size)

    def _train_config(self, epochs: int, seed: int) -> TrainConfig:
        kw = internal(self, TRAIN_PARAMS)
        kw["batch_size"] = self._batch_size()
        kw["progress"] = bool(kw.get("progress", False))
        if kw.get("weight_decay") == "auto":  # the fitted choice (before fit: none)
            kw["weight_decay"] = float(getattr(self, "weight_decay_", 0.0))
        return TrainConfig(epochs=int(epochs), seed=int(seed), **kw)

    def validate_params(self):
        """Check every option now, before any data is touched (``fit`` does the same
        first); a refused value raises :class:`~aekit.ConfigError` naming the option.
        Returns self."""
        self._check_params()
        problem = device_problem(self.device, available=True)  # training needs it here
        if problem:
            raise ConfigError(problem)
        return self

    def _check_params(self) -> None:
        """Validate every option before any work: each keyword against the parameter
        table (scikit-learn's constraints; errors name the keyword), then the combinations
        a table cannot express (``_check_combinations``)."""
        check_params(self)
        self._check_combinations()
        self._objective()  # backstops: with the checks above these never refuse
        self._train_config(self._epochs(), 0)

    def _check_combinations(self) -> None:
        """Checks across keywords (each keyword alone is already valid)."""
        noise = self._option("noise")
        if noise in ("mask", "salt_pepper") and not self.noise_level < 1:
            raise ConfigError(f"noise_level must be below 1 with noise={noise!r} (it is the "
                              f"probability that a value is corrupted), got {self.noise_level!r}")
        problem = device_problem(self.device)  # whether it is there: aekit train checks
        if problem:
            raise ConfigError(problem)

    def _new_seed(self) -> int:
        """``random_state`` -> one integer that seeds weights, shuffling and noise."""
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))

    # --- input -------------------------------------------------------------------------
    def _validate_X(self, X, reset: bool):
        """X -> finite float32 (n, n_features_in_) via scikit-learn's ``validate_data``
        (feature count and names). Image-shaped X (n, H, W) / (n, C, H, W) is flattened;
        with ``reset`` its shape is returned for the layout, else checked against it.

        A lazy Dataset or a memmap (:mod:`aekit.estimators.streamed`) is not copied when
        fitting: it is checked a block at a time and returned as :class:`StreamedRows`, which
        training streams; the other methods read it into memory (one value per row comes
        back anyway). An in-memory Dataset is its array (with its image shape)."""
        X = as_rows(X, images=self._image_input)
        if isinstance(X, StreamedRows):
            if reset:
                # NaN/Inf and the range over every row, block by block; then validate_data
                # on the first rows: n_features_in_ and feature names by scikit-learn's rules.
                X.check()
                validate_data(self, X[:min(len(X), BLOCK_ROWS)], reset=True,
                              dtype=[np.float32, np.float64])
                return X, (X.image_shape if self._image_input else None)
            X = X.to_array()
        seen = None
        if self._image_input and hasattr(X, "ndim") and X.ndim in (3, 4):
            seen = (1, *X.shape[1:]) if X.ndim == 3 else tuple(X.shape[1:])
            seen = tuple(int(s) for s in seen)
            X = np.asarray(X).reshape(len(X), -1)
        X = validate_data(self, X, reset=reset, dtype=[np.float32, np.float64])
        if X.dtype != np.float32:  # (float32 X was checked finite by validate_data)
            with np.errstate(over="ignore"):
                X = np.asarray(X, dtype=np.float32)
            if not np.isfinite(X).all():
                raise DataError("X has values beyond float32's range (about 3.4e38); aekit "
                                "computes in float32: rescale X")
        if not reset and seen is not None:
            layout = self.fitted_.layout
            if layout.image_shape is not None and layout.pad == 0 and seen != layout.image_shape:
                raise DataError(f"X holds images of shape {seen}, but {type(self).__name__} "
                                f"was fitted on images of shape {layout.image_shape}")
        return (X, seen) if reset else X

    def _layout(self, n_features: int, seen) -> InputLayout:
        """The input layout for training (see :meth:`InputLayout.infer`)."""
        if not self._image_input:
            return InputLayout(n_features)
        return InputLayout.infer(n_features, self._option("image_shape"), seen,
                                 self._n_pools())

    def _n_pools(self) -> int:
        """2x2 poolings the network applies (0 for dense networks)."""
        return len(self.channels) if self._option("architecture", "conv") == "conv" else 0

    @property
    def module_(self):
        """The trained PyTorch module (``fitted_.module``)."""
        return self.fitted_.module

    @property
    def image_shape_(self):
        """(C, H, W) the network lays each row out on, or None (dense)."""
        return self.fitted_.layout.image_shape

    def _check_range(self, X) -> None:
        """Sigmoid/Bernoulli outputs live in [0, 1]: refuse data they cannot reconstruct."""
        if not self._needs_unit_range():
            return
        lo, hi = float(X.min()), float(X.max())
        if lo < 0 or hi > 1:
            if self._option("loss") == "bce":
                why, fix = "loss='bce'", "use loss='mse'"
            elif self._has("likelihood"):
                why, fix = "a Bernoulli likelihood", "use likelihood='gaussian'"
            else:
                why, fix = "a sigmoid output", "use output_activation='linear'"
            chosen = [n for n in self._AUTO if self._option(n) == "auto"]
            how = (f" ({chosen[0]}='auto' chose it from the data fitted first)" if chosen
                   else "")
            raise DataError(
                f"X has values in [{lo:.4g}, {hi:.4g}] but {type(self).__name__} reconstructs "
                f"values in [0, 1] ({why}{how}). Scale X first (e.g. "
                f"sklearn.preprocessing.MinMaxScaler) or {fix}.")

    def _needs_unit_range(self) -> bool:
        return ((self._has("output_activation")
                 and self._resolved("output_activation") == "sigmoid")
                or self._option("loss") == "bce")

    # --- module ------------------------------------------------------------------------
    def _build_module(self, layout: InputLayout):
        """A fresh network for ``layout``, seeded from ``random_state``."""
        self.seed_ = self._new_seed()
        module = build_model(self._model_config(layout), seed=self.seed_)
        self.n_components_ = int(module.code_size)
        self.history_ = []
        self.n_iter_ = 0
        return module

    def _fitted(self, module, layout: InputLayout) -> FittedAutoencoder:
        """``fitted_`` for a trained module (the density is fitted separately)."""
        return FittedAutoencoder(module, objective=self._objective(), layout=layout,
                                 seed=self.seed_,
                                 n_mc_samples=self._option("n_mc_samples", 8))

    def _train(self, module, layout: InputLayout, X: np.ndarray, epochs: int, seed: int,
               greedy_epochs=None, checkpoint_dir=None, resume: bool = False,
               trainer=None, continuing: bool = False, callbacks=()) -> None:
        """Train ``module`` in place (history appended). On divergence ``train`` restores
        the last good weights into the module, and ``fitted_`` holds them (without a code
        density) when the TrainingError propagates, so they can still be saved.
        ``checkpoint_dir``/``resume``: see :func:`aekit.training.train` (the signature
        stored with each checkpoint is the network + objective config). ``callbacks``: the
        run's own (its collapse check), added to the last phase (greedy: the fine-tune),
        and replacing the previous call's in a continued trainer."""
        config = self._train_config(epochs, seed)
        callbacks = [c for c in callbacks if c is not None]  # (a kind without a check)
        if isinstance(X, StreamedRows) and greedy_epochs is None:
            Xt = X.source(pad=layout.pad, device=config.device)  # read a batch at a time
        else:  # (greedy layer-wise training holds its inputs and codes in memory)
            Xt = layout.to_module(X)
        self._trainer = None
        signature = {"model": module.config.to_dict(), "objective": self._objective().to_dict()}
        try:
            if greedy_epochs is not None:  # a schedule of train() runs, one folder per phase
                results = greedy_layerwise(module, self._objective(), Xt, config=config,
                                           pretrain_epochs=greedy_epochs,
                                           checkpoint_dir=checkpoint_dir, resume=resume,
                                           signature=signature, callbacks=callbacks)
                self.pretraining_history_ = [r.history for r in results["layers"]]
                history = results["fine_tune"].history
            else:
                if trainer is None:
                    trainer = Trainer(module, self._objective(), config, callbacks=callbacks)
                else:  # a continued run: this call's checks, not the last call's
                    trainer.extra_callbacks = [
                        c for c in trainer.extra_callbacks if not isinstance(c, CollapseCheck)
                    ] + list(callbacks)
                self._trainer = trainer  # partial_fit continues from here (warm start)
                done = len(trainer.result.history)
                until = trainer.epoch + epochs if continuing else None
                history = trainer.fit(Xt, until=until, checkpoint_dir=checkpoint_dir,
                                      resume=resume, signature=signature).history[done:]
        except TrainingError as exc:
            module.eval()
            done = list(getattr(exc, "history", None) or [])
            self.history_ = list(self.history_) + done
            self.n_iter_ += len(done)
            if not hasattr(self, "fitted_"):
                self.fitted_ = self._fitted(module, layout)
            raise
        module.eval()
        self.history_ = list(self.history_) + history
        self.n_iter_ += len(history)

    def _collapse_check(self, module, layout: InputLayout, X) -> CollapseCheck | None:
        """The run's collapse check (:mod:`aekit.training.collapse`), measuring the network
        as it is now (before this training) on X's rows, in X's units (None: this kind
        has none)."""
        fitted = self._fitted(module, layout)
        return CollapseCheck(check_rows(X), fitted.reconstruct, fitted.encode, module,
                             self._option("learning_rate"))

    def __getstate__(self):
        """Pickles leave the live trainer out (optimizer, buffers): an unpickled model's
        ``partial_fit`` starts a fresh optimizer, as a loaded one does."""
        state = super().__getstate__()
        state.pop("_trainer", None)
        return state

    # --- saving ------------------------------------------------------------------------
    def _json_state(self) -> dict:
        """Fitted attributes of the estimator itself, as JSON (the fitted model's own record
        - layout, seed, density - is written by ``fitted_``)."""
        state = {"n_features_in_": int(self.n_features_in_), "seed_": int(self.seed_),
                 "n_components_": int(self.n_components_), "n_iter_": int(self.n_iter_)}
        if hasattr(self, "feature_names_in_"):
            state["feature_names_in_"] = [str(s) for s in self.feature_names_in_]
        if hasattr(self, "epochs_"):
            state["epochs_"] = int(self.epochs_)
        for name in self._AUTO:  # what 'auto' chose (or the explicit value)
            if hasattr(self, name + "_"):
                state[name + "_"] = str(getattr(self, name + "_"))
        if hasattr(self, "weight_decay_"):
            state["weight_decay_"] = float(self.weight_decay_)
        if isinstance(self.random_state, np.random.RandomState):
            state["random_state_note"] = ("random_state was a numpy RandomState, which has no "
                                          "JSON form: saved as None; seed_ is the seed it gave")
        return state

    def _json_params(self) -> dict:
        """``get_params()`` as config.json holds them: a numpy RandomState given as
        random_state is saved as None (the seed it gave this fit is ``seed_``, which the
        loaded model keeps; the state says so)."""
        params = self.get_params(deep=False)
        if isinstance(params.get("random_state"), np.random.RandomState):
            params["random_state"] = None
        if isinstance(params.get("log_dir"), os.PathLike):  # JSON holds the text of a path
            params["log_dir"] = os.fspath(params["log_dir"])
        return params

    def _extra_tensors(self) -> dict:
        return {}

    def save(self, path) -> Path:
        """Write the fitted estimator to the folder ``path`` in aekit's safe model format
        (``config.json`` + ``model.safetensors``); read it back with :func:`aekit.load`.

        Loading such a folder never runs code, so it is the format for files from other
        people. Pickling (``joblib.dump``) also works, like any scikit-learn estimator,
        but a pickle can execute arbitrary code when loaded: only unpickle your own files.
        """
        check_is_fitted(self)
        est = {"class": type(self).__name__, "params": self._json_params(),
               "state": self._json_state()}
        extra = {"estimator": est,
                 "training": self._train_config(self._train_epochs(), self.seed_).to_dict()}
        return self.fitted_.save(path, extra_config=extra, extra_tensors=self._extra_tensors(),
                                 history=self.history_)

    def export_onnx(self, path, part: str | None = None, *, threshold=None,
                    score: str = "sse", force: bool = False) -> Path:
        """Write ``part`` of the fitted model to the ONNX file ``path`` (dynamic batch axis),
        checked against PyTorch in onnxruntime before it is written; needs
        ``pip install 'aekit[onnx]'``.

        part: 'autoencoder' (x -> reconstruction, score), 'encoder' (x -> code; a VAE gives
        mu and logvar), 'decoder' (code -> reconstruction; not for decoder='unpool', whose
        indices come from the encoder), for a classifier 'classifier' (x -> logits,
        probabilities), for a segmenter 'segmenter'; None: the whole network. ``score`` ('sse', 'mse', 'bce') is the autoencoder graph's per-row
        error and ``threshold`` an anomaly threshold on it; both go into the metadata with
        the input layout and output activation (:func:`aekit.fitted.onnx.read_metadata`).
        ``force`` replaces an existing file."""
        check_is_fitted(self)
        return self.fitted_.export_onnx(path, part, threshold=threshold, score=score,
                                        force=force)

    def _train_epochs(self) -> int:
        """Epochs of the training run (saved in the model file's training record)."""
        return getattr(self, "epochs_", None) or self._epochs()

    def _restore_auto(self, fitted: FittedModel, state: dict) -> None:
        """``output_activation_`` / ``likelihood_`` of a loaded model: the saved record, or
        (folders written before 'auto' existed) what the saved network and objective use.
        The caller then checks that the parameters build exactly the saved network."""
        for name, choices in self._AUTO.items():
            if not self._has(name):
                continue
            found = (fitted.module.output_activation if name == "output_activation"
                     else fitted.objective.likelihood)
            value = state.get(name + "_", found)
            if value not in choices:
                raise ConfigError(f"estimator state: {name}_ must be one of {list(choices)}, "
                                  f"got {value!r}")
            if value != found:
                raise ConfigError(f"estimator state: {name}_ is {value!r} but the saved model "
                                  f"uses {found!r}")
            setattr(self, name + "_", value)

    def _restore_weight_decay(self, state: dict) -> None:
        """``weight_decay_`` of a loaded model whose weight_decay is 'auto' (the saved
        choice; ``partial_fit`` on it continues with that decay)."""
        value = state.get("weight_decay_")
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not np.isfinite(value) or value < 0:
            raise ConfigError("estimator state: weight_decay_ must be a number >= 0 when "
                              f"weight_decay is 'auto', got {value!r}")
        self.weight_decay_ = float(value)

    def _restore(self, fitted: FittedModel, state: dict, extra: dict) -> None:
        """Inverse of ``_json_state`` / ``_extra_tensors`` (validated by the caller)."""
        self.fitted_ = fitted
        self.history_ = list(fitted.history or [])
        for key in ("n_features_in_", "seed_", "n_components_", "n_iter_", "epochs_"):
            if key == "epochs_" and key not in state:  # files before epochs='auto'
                continue
            value = state.get(key)  # whole numbers only: 64.7 is damage, not 64
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ModelFileError(f"estimator state: {key} must be a whole number >= 0, "
                                     f"got {value!r}")
            setattr(self, key, value)
        self._auto_code_size = self.n_components_  # what n_components='auto' chose
        if "feature_names_in_" in state:
            names = state["feature_names_in_"]
            if not (isinstance(names, list) and all(isinstance(s, str) for s in names)
                    and len(names) == self.n_features_in_):
                raise ModelFileError(f"estimator state: feature_names_in_ must be "
                                     f"{self.n_features_in_} names (n_features_in_)")
            self.feature_names_in_ = np.asarray(names, dtype=object)
        if self._option("weight_decay") == "auto":
            self._restore_weight_decay(state)
        self._restore_auto(fitted, state)
        if fitted.n_features != self.n_features_in_:
            raise ConfigError(f"the fitted model takes {fitted.n_features} features but the "
                              f"estimator state says {self.n_features_in_}")


# partial_fit past the end of a cosine schedule (planned over epochs_, it ends at learning
# rate 0, and torch's cosine then rises again along the wave): the epochs after it train at
# a constant learning_rate * PAST_SCHEDULE_LR, the fine-tuning convention of
# AutoencoderClassifier (small steps keep what was learned), and say so once.
PAST_SCHEDULE_LR = 0.1


def _past_the_schedule(trainer, planned: int) -> None:
    scheduler = trainer.scheduler
    if trainer.epoch < planned or not isinstance(
            scheduler, torch.optim.lr_scheduler.CosineAnnealingLR):
        return
    lr = scheduler.base_lrs[0] * PAST_SCHEDULE_LR
    trainer.scheduler = None
    for group in trainer.optimizer.param_groups:
        group["lr"] = lr
    log.warning("partial_fit: the cosine learning-rate schedule planned over %d epochs has "
                "ended (learning rate 0); later epochs train at a constant %.3g "
                "(learning_rate x %g). Set lr_schedule=None to train online at "
                "learning_rate throughout.", planned, lr, PAST_SCHEDULE_LR)


# The code density (sample) and the entropy model (compress) are fitted on the codes of at
# most DENSITY_ROWS evenly spaced training rows, an array's or a streamed file's alike (the
# same rows, so the same model, from either). The mixture fitted on 5000 codes before
# (fitted.density.GMM_FIT_ROWS); encoding all 60,000 Fashion-MNIST rows for it took 0.2 s
# of a 3.3 s default 3-epoch fit (issue 27: <= 10% of a fit outside its epochs).
DENSITY_ROWS = 5_000


class BaseAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, AutoencoderMixin,
                      BaseEstimator):
    """Transformer API shared by every autoencoder estimator.

    Data: rows of X are samples; values are modelled as float32, any real values. The
    default output_activation='auto' (likelihood='auto' for the VAE) picks a sigmoid output
    (Bernoulli likelihood) when every training value lies in [0, 1] and a linear output
    (Gaussian likelihood) otherwise. With an explicit sigmoid output (or BCE loss /
    Bernoulli likelihood) X must lie in [0, 1]: ``fit`` raises a :class:`~aekit.DataError`
    naming the range it found otherwise. Nothing is clipped silently.
    """

    # --- fitting -------------------------------------------------------------------------
    @on_own_threads
    def fit(self, X, y=None, *, checkpoint_dir=None, resume=False):
        """Build the network and train it on X for ``epochs`` epochs. ``y`` is ignored.

        ``checkpoint_dir``: write a training checkpoint there after every epoch;
        ``resume=True`` continues from it (same data and parameters) instead of starting
        over (used by ``aekit train --resume``).
        """
        X, layout, module = self._start_fit(X)
        greedy = None
        if self._option("pretraining") == "greedy":
            greedy = self.pretrain_epochs or self.epochs_
        check = self._collapse_check(module, layout, X)  # the untrained network
        try:
            self._train(module, layout, X, self.epochs_, self.seed_, greedy_epochs=greedy,
                        checkpoint_dir=checkpoint_dir, resume=resume, callbacks=[check])
        except TrainingError as exc:
            if getattr(exc, "history", None) is not None:  # diverged (a collapse has none)
                self._keep_after_divergence(module, layout, X)
            raise
        self.fitted_ = self._fitted(module, layout)
        self._fit_sampler(X)
        return self

    def _start_fit(self, X):
        """What every fit does first: check the options and X, resolve the 'auto' ones, lay
        the rows out and build a fresh network; returns (X, layout, module) and sets
        ``epochs_``."""
        self.validate_params()
        X, seen = self._validate_X(X, reset=True)
        self._resolve_auto(X)
        self._check_range(X)
        layout = self._layout(X.shape[1], seen)
        module = self._build_module(layout)
        self.epochs_ = self._epochs("epochs", len(X))
        return X, layout, module

    @on_own_threads
    def partial_fit(self, X, y=None):
        """One more training epoch over X (the network is built on the first call).

        Training continues where the previous call (or ``fit``) stopped: the same optimizer
        state (Adam moments), learning-rate schedule (planned over ``epochs``), warm-up and
        shuffling stream, so ``epochs`` calls over the same X give the weights ``fit(X)``
        ends with (when its last epoch is its best: ``partial_fit`` keeps the last
        epoch's weights). A loaded or unpickled model starts a fresh optimizer. Past the end
        of a cosine schedule (learning rate 0) it trains at learning_rate x 0.1, constant,
        and logs a warning once. The code density used by ``sample`` is refitted on X's
        codes.
        """
        first = not hasattr(self, "fitted_")
        if first:
            self.validate_params()
            X, seen = self._validate_X(X, reset=True)
            self._resolve_auto(X)  # from the first batch; later batches are held to it
            self._check_range(X)
            layout = self._layout(X.shape[1], seen)
            module = self._build_module(layout)
        else:
            X = self._validate_X(X, reset=False)
            self._check_range(X)
            module, layout = self.fitted_.module, self.fitted_.layout
        trainer = getattr(self, "_trainer", None)
        if trainer is None or trainer.model is not module:  # first call, or after load
            if first or not hasattr(self, "epochs_"):  # the schedule's length, fixed now
                self.epochs_ = self._epochs("epochs", len(X))
            config = dataclasses.replace(self._train_config(self.epochs_, self.seed_),
                                         restore_best=False)
            trainer = Trainer(module, self._objective(), config)
        trainer.best.restore = False  # partial_fit keeps the last epoch's weights
        _past_the_schedule(trainer, self.epochs_)
        check = self._collapse_check(module, layout, X)  # before this epoch
        try:
            self._train(module, layout, X, 1, self.seed_, trainer=trainer, continuing=True,
                        callbacks=[check])
        except TrainingError as exc:
            if getattr(exc, "history", None) is not None:  # diverged (a collapse has none)
                self._keep_after_divergence(module, layout, X)
            raise
        if first:
            self.fitted_ = self._fitted(module, layout)
        self._fit_sampler(X)
        return self

    def _fit_sampler(self, X: np.ndarray) -> None:
        if len(X) > DENSITY_ROWS:  # see DENSITY_ROWS
            X = X[np.linspace(0, len(X) - 1, DENSITY_ROWS).astype(np.int64)]
        self.fitted_.fit_density(X, self.sampler, self.sampler_components)

    def _keep_after_divergence(self, module, layout, X) -> None:
        """After a divergence the module holds the last good weights: make ``fitted_`` that
        model, with its code density, so it can be saved and loaded as a complete model
        (``aekit train`` saves it). The divergence error is the one to report."""
        if getattr(self, "fitted_", None) is None or self.fitted_.module is not module:
            self.fitted_ = self._fitted(module, layout)
        with contextlib.suppress(AekitError):
            self._fit_sampler(X)

    @property
    def sampler_(self):
        """The code density used by ``sample`` (``fitted_.density``)."""
        return self.fitted_.density

    # --- using ---------------------------------------------------------------------------
    @on_own_threads
    def transform(self, X):
        """Codes of X: array (n_samples, n_components_), float32."""
        check_is_fitted(self)
        return self.fitted_.encode(self._validate_X(X, reset=False))

    @on_own_threads
    def inverse_transform(self, X):
        """Decode codes (n_samples, n_components_) back to flat data (n_samples,
        n_features_in_), float32: the network's reconstruction of the data they encode."""
        check_is_fitted(self)
        Z = check_array(X, dtype=np.float32, input_name="X")
        if Z.shape[1] != self.n_components_:
            raise ValueError(f"X has {Z.shape[1]} features, but {type(self).__name__}."
                             f"inverse_transform is expecting {self.n_components_} features "
                             "(the code size n_components_) as input.")
        return self.fitted_.decode(Z)

    @on_own_threads
    def reconstruct(self, X):
        """``inverse_transform(transform(X))`` in one pass (unpooling indices included;
        a VAE's decoder mean at z = mu), (n_samples, n_features_in_) float32."""
        check_is_fitted(self)
        return self.fitted_.reconstruct(self._validate_X(X, reset=False))

    @on_own_threads
    def score_samples(self, X):
        """Per-sample score, higher = more normal: minus the squared reconstruction error
        summed over features, ``-sum_j (x_j - x_hat_j)^2`` (units of X squared).
        Shape (n_samples,), float64 (computed in float64, so a row's score does not depend
        on the other rows in the batch)."""
        check_is_fitted(self)
        return self.fitted_.score_samples(self._validate_X(X, reset=False))

    @on_own_threads
    def score(self, X, y=None):
        """Mean of :meth:`score_samples` over X (same units). ``y`` is ignored."""
        return float(np.mean(self.score_samples(X)))

    @on_own_threads
    def sample(self, n_samples=1, random_state=None):
        """Generate ``n_samples`` new rows (n_samples, n_features_in_), float32: codes drawn
        from the density fitted on the training codes (``sampler``), then decoded."""
        check_is_fitted(self)
        _positive_int("n_samples", n_samples)
        return self.fitted_.sample(n_samples, random_state)

    @property
    def _n_features_out(self):
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = False
        return tags
