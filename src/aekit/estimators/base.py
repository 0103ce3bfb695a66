"""What every aekit estimator shares: option plumbing, input checks, encode/decode, scores,
sampling and saving. Each estimator module only says which network and objective it builds.

Pattern (scikit-learn's ``_pca.py`` + ``_base.py``): ``__init__`` stores its arguments,
``fit`` validates them and the data, builds ``module_`` with :func:`aekit.models.build_model`
and trains it with :func:`aekit.training.train`. Every method that takes X checks that the
estimator is fitted and that X has the columns seen in ``fit``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from aekit.errors import ConfigError, DataError
from aekit.estimators.samplers import CodeDensity
from aekit.losses import Objective
from aekit.models import build_model
from aekit.training import TrainConfig, train
from aekit.training.trainer import copy_model

# Estimator keyword -> TrainConfig field. One mapping serves fit, partial_fit and saving.
TRAIN_PARAMS = {
    "batch_size": "batch_size", "optimizer": "optimizer", "learning_rate": "lr",
    "weight_decay": "weight_decay", "lr_schedule": "lr_schedule", "warmup_epochs": "warmup_epochs",
    "validation_fraction": "validation_fraction", "early_stopping": "early_stopping",
    "grad_clip": "grad_clip", "device": "device", "verbose": "progress",
}
# Estimator keyword -> Objective field (only those an estimator has are used).
OBJECTIVE_PARAMS = {
    "loss": "reconstruction", "noise": "noise", "noise_level": "noise_level",
    "sparsity": "sparsity", "sparsity_weight": "sparsity_weight",
    "sparsity_target": "sparsity_target", "contractive": "contractive", "beta": "beta",
    "likelihood": "likelihood", "likelihood_scale": "likelihood_scale",
    "kl_warmup_epochs": "kl_warmup_epochs",
}
INFER_ROWS = 64  # every encode/decode chunk has this shape: results independent of the call


def store_params(estimator, params: dict) -> None:
    """``__init__`` body: store every argument as given (scikit-learn's contract)."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


def _positive_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


class AutoencoderMixin:
    """Option plumbing and the module-level helpers shared by transformers and the
    classifier. Subclasses define ``_model_config(n_features) -> ModelConfig``."""

    _image_input = False  # True: accepts (n, H, W) / (n, C, H, W) arrays and image_shape

    # --- options -----------------------------------------------------------------------
    def _objective(self) -> Objective:
        kw = {field: getattr(self, p) for p, field in OBJECTIVE_PARAMS.items() if hasattr(self, p)}
        return Objective(**kw)

    def _train_config(self, epochs: int, seed: int) -> TrainConfig:
        kw = {field: getattr(self, p) for p, field in TRAIN_PARAMS.items() if hasattr(self, p)}
        kw["progress"] = bool(kw.get("progress", False))
        return TrainConfig(epochs=int(epochs), seed=int(seed), **kw)

    def _check_params(self) -> None:
        """Validate every option before any work (each error names the option)."""
        _positive_int("epochs", self.epochs, minimum=0)
        self._objective()  # raises ConfigError for bad objective options
        self._train_config(self.epochs, 0)
        if hasattr(self, "hidden_layer_sizes"):
            sizes = self.hidden_layer_sizes
            if not isinstance(sizes, (tuple, list)):
                raise ConfigError(f"hidden_layer_sizes must be a tuple of ints, got {sizes!r}")
            for h in sizes:
                _positive_int("hidden_layer_sizes entries", h)
        if getattr(self, "n_components", None) is not None:
            _positive_int("n_components", self.n_components)

    def _new_seed(self) -> int:
        """``random_state`` -> one integer that seeds weights, shuffling and noise."""
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))

    # --- input -------------------------------------------------------------------------
    def _flatten_images(self, X):
        """(n, H, W) / (n, C, H, W) arrays -> (n, C*H*W); remembers the image shape."""
        if not self._image_input or not hasattr(X, "ndim") or X.ndim not in (3, 4):
            return X, None
        shape = (1, *X.shape[1:]) if X.ndim == 3 else tuple(X.shape[1:])
        return np.asarray(X).reshape(len(X), -1), tuple(int(s) for s in shape)

    def _validate_X(self, X, reset: bool):
        X, shape = self._flatten_images(X)
        X = validate_data(self, X, reset=reset, dtype=[np.float32, np.float64])
        if reset:
            self._set_image_shape(shape, X.shape[1])
        elif shape is not None and self.image_shape_ is not None and shape != self.image_shape_:
            raise DataError(f"X holds images of shape {shape}, but {type(self).__name__} was "
                            f"fitted on images of shape {tuple(self.image_shape_)}")
        return np.asarray(X, dtype=np.float32)

    def _set_image_shape(self, shape, n_features):
        if not self._image_input:
            return
        given = getattr(self, "image_shape", None)
        if given is not None:
            given = tuple(int(s) for s in ((1, *given) if len(given) == 2 else given))
            if math.prod(given) != n_features:
                raise DataError(f"image_shape {given} has {math.prod(given)} values but X has "
                                f"{n_features} features per row")
            if shape is not None and shape != given:
                raise DataError(f"X holds images of shape {shape} but image_shape is {given}")
            shape = given
        self._pad_ = 0
        if shape is None and self._n_pools() == 0:
            self.image_shape_ = None  # dense network: no image layout needed
            return
        if shape is None:
            # Flat rows and no image_shape: lay each row out row-major on the smallest
            # square that survives every 2x2 pooling, zero-padded (a 784-row is 28x28).
            side = max(math.ceil(math.sqrt(n_features)), 2 ** self._n_pools())
            shape = (1, side, side)
            self._pad_ = side * side - n_features
        self.image_shape_ = shape

    def _n_pools(self) -> int:
        """2x2 poolings the network applies (0 for dense networks)."""
        return len(self.channels) if getattr(self, "architecture", "conv") == "conv" else 0

    def _module_features(self) -> int:
        return self.n_features_in_ + getattr(self, "_pad_", 0)

    def _check_range(self, X) -> None:
        """Sigmoid/Bernoulli outputs live in [0, 1]: refuse data they cannot reconstruct."""
        if not self._needs_unit_range():
            return
        lo, hi = float(X.min()), float(X.max())
        if lo < 0 or hi > 1:
            raise DataError(
                f"X has values in [{lo:.4g}, {hi:.4g}] but {type(self).__name__} reconstructs "
                "values in [0, 1] (sigmoid output / Bernoulli likelihood / BCE loss). Scale X "
                "first (e.g. sklearn.preprocessing.MinMaxScaler) or use "
                "output_activation='linear' with loss='mse'.")

    def _needs_unit_range(self) -> bool:
        return (getattr(self, "output_activation", "linear") == "sigmoid"
                or getattr(self, "loss", None) == "bce")

    # --- module ------------------------------------------------------------------------
    def _to_module(self, X: np.ndarray) -> torch.Tensor:
        """(n, n_features_in_) float32 -> (n, module features) tensor (zero-padded)."""
        t = torch.tensor(np.ascontiguousarray(X), dtype=torch.float32)
        pad = getattr(self, "_pad_", 0)
        return torch.nn.functional.pad(t, (0, pad)) if pad else t

    def _from_module(self, out: torch.Tensor) -> np.ndarray:
        """Crop the padding off module outputs (n, module features) -> numpy float32."""
        return out[:, : self.n_features_in_].numpy()

    def _build_module(self, n_features: int):
        self.seed_ = self._new_seed()
        self.module_ = build_model(self._model_config(self._module_features()), seed=self.seed_)
        self.n_components_ = int(self.module_.code_size)
        self.history_ = []
        self.n_iter_ = 0
        return self.module_

    def _train(self, X: np.ndarray, epochs: int, seed: int, greedy_epochs=None,
               checkpoint_dir=None, resume: bool = False) -> None:
        """Train ``module_`` in place (history appended). On divergence ``train`` restores
        the last good weights into ``module_`` before the TrainingError propagates.
        ``checkpoint_dir``/``resume``: see :func:`aekit.training.train` (the signature
        stored with each checkpoint is the network + objective config)."""
        config = self._train_config(epochs, seed)
        Xt = self._to_module(X)
        if checkpoint_dir is not None and greedy_epochs is not None:
            raise ConfigError("checkpoints (resume) are not supported with "
                              "pretraining='greedy'")
        if greedy_epochs is not None:
            from aekit.training import greedy_layerwise

            results = greedy_layerwise(self.module_, self._objective(), Xt, config=config,
                                       pretrain_epochs=greedy_epochs)
            self.pretraining_history_ = [r.history for r in results["layers"]]
            history = results["fine_tune"].history
        else:
            signature = {"model": self.module_.config.to_dict(),
                         "objective": self._objective().to_dict()}
            history = train(self.module_, self._objective(), Xt, config=config,
                            checkpoint_dir=checkpoint_dir, resume=resume,
                            signature=signature).history
        self.module_.eval()
        self.history_ = list(self.history_) + history
        self.n_iter_ += len(history)

    def _float64_module(self):
        """A float64 copy of ``module_`` (tied weights stay tied) for scores: summed squared
        errors in float32 would change in the 7th digit with the batch composition."""
        return copy_model(self.module_).double().eval()

    @torch.no_grad()
    def _batched(self, fn, X: torch.Tensor) -> torch.Tensor:
        """``fn`` over X in chunks of exactly INFER_ROWS rows (the last one zero-padded).

        A float32 matrix product's rounding depends on its shape, so a row's code would
        otherwise change in the 7th digit with how many rows the call holds (scikit-learn's
        subset-invariance check caught it). Every chunk having the same shape makes each
        row's result independent of the rest of the call."""
        self.module_.eval()
        dev = next(self.module_.parameters()).device
        outs = []
        for i in range(0, len(X), INFER_ROWS):
            chunk = X[i:i + INFER_ROWS]
            rows = len(chunk)
            if rows < INFER_ROWS:
                chunk = torch.cat([chunk, chunk.new_zeros((INFER_ROWS - rows, *chunk.shape[1:]))])
            outs.append(fn(chunk.to(dev))[:rows].cpu())
        return torch.cat(outs) if outs else torch.empty(0)

    def _encode(self, X: np.ndarray) -> np.ndarray:
        return self._batched(self.module_.encode, self._to_module(X)).numpy()

    def _decode(self, Z: np.ndarray) -> np.ndarray:
        return self._from_module(self._batched(self.module_.decode, torch.tensor(Z)))

    # --- saving ------------------------------------------------------------------------
    def _json_state(self) -> dict:
        """Fitted attributes that are not tensors, as JSON."""
        state = {"n_features_in_": int(self.n_features_in_), "seed_": int(self.seed_),
                 "n_components_": int(self.n_components_), "n_iter_": int(self.n_iter_)}
        if hasattr(self, "feature_names_in_"):
            state["feature_names_in_"] = [str(s) for s in self.feature_names_in_]
        if self._image_input:
            state["image_shape_"] = list(self.image_shape_) if self.image_shape_ else None
            state["_pad_"] = int(self._pad_)
        return state

    def _extra_tensors(self) -> dict:
        return {}

    def save(self, path) -> Path:
        """Write the fitted estimator to the folder ``path`` in aekit's safe model format
        (``config.json`` + ``model.safetensors``); read it back with :func:`aekit.load`.

        Loading such a folder never runs code, so it is the format for files from other
        people. Pickling (``joblib.dump``) also works, like any scikit-learn estimator,
        but a pickle can execute arbitrary code when loaded: only unpickle your own files.
        """
        from aekit.io import model_files

        check_is_fitted(self)
        est = {"class": type(self).__name__, "params": self.get_params(deep=False),
               "state": self._json_state()}
        extra = {"estimator": est, "objective": self._objective().to_dict(),
                 "training": self._train_config(self._train_epochs(), self.seed_).to_dict()}
        return model_files.save(path, self.module_, extra_config=extra,
                                extra_tensors=self._extra_tensors(), history=self.history_)

    def _train_epochs(self) -> int:
        return self.epochs

    def _restore(self, module, state: dict, extra: dict) -> None:
        """Inverse of ``_json_state`` / ``_extra_tensors`` (validated by the caller)."""
        self.module_ = module.eval()
        self.history_ = []
        for key in ("n_features_in_", "seed_", "n_components_", "n_iter_"):
            setattr(self, key, int(state[key]))
        if "feature_names_in_" in state:
            self.feature_names_in_ = np.asarray(state["feature_names_in_"], dtype=object)
        if self._image_input:
            shape = state["image_shape_"]
            self.image_shape_ = tuple(int(s) for s in shape) if shape else None
            self._pad_ = int(state["_pad_"])


class BaseAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, AutoencoderMixin,
                      BaseEstimator):
    """Transformer API shared by every autoencoder estimator.

    Data: rows of X are samples; values are modelled as float32. With the default sigmoid
    output (or BCE loss / Bernoulli likelihood) X must lie in [0, 1]: ``fit`` raises a
    :class:`~aekit.DataError` naming the range it found otherwise (scale with
    ``MinMaxScaler``, or use ``output_activation='linear'`` with ``loss='mse'``).
    Nothing is clipped silently.
    """

    # --- fitting -------------------------------------------------------------------------
    def fit(self, X, y=None, *, checkpoint_dir=None, resume=False):
        """Build the network and train it on X for ``epochs`` epochs. ``y`` is ignored.

        ``checkpoint_dir``: write a training checkpoint there after every epoch;
        ``resume=True`` continues from it (same data and parameters) instead of starting
        over (used by ``aekit train --resume``).
        """
        self._check_params()
        X = self._validate_X(X, reset=True)
        self._check_range(X)
        self._build_module(X.shape[1])
        greedy = None
        if getattr(self, "pretraining", None) == "greedy":
            greedy = self.pretrain_epochs or self.epochs
        self._train(X, self.epochs, self.seed_, greedy_epochs=greedy,
                    checkpoint_dir=checkpoint_dir, resume=resume)
        self._fit_sampler(X)
        return self

    def partial_fit(self, X, y=None):
        """One more training epoch over X (the network is built on the first call).

        Each call starts a fresh optimizer (Adam moments are not carried over), its own
        shuffling seed, and its learning-rate warm-up (``warmup_epochs``) and schedule
        count from the call's first step; the code density used by ``sample`` is
        refitted on X's codes.
        """
        first = not hasattr(self, "module_")
        if first:
            self._check_params()
        X = self._validate_X(X, reset=first)
        self._check_range(X)
        if first:
            self._build_module(X.shape[1])
        self._train(X, 1, self.seed_ + self.n_iter_)
        self._fit_sampler(X)
        return self

    def _fit_sampler(self, X: np.ndarray) -> None:
        codes = self._encode(X)
        self.sampler_ = CodeDensity.fit(codes, self.sampler, self.sampler_components, self.seed_)

    # --- using ---------------------------------------------------------------------------
    def transform(self, X):
        """Codes of X: array (n_samples, n_components_), float32."""
        check_is_fitted(self)
        return self._encode(self._validate_X(X, reset=False))

    def inverse_transform(self, X):
        """Decode codes (n_samples, n_components_) back to flat data (n_samples,
        n_features_in_), float32: the network's reconstruction of the data they encode."""
        check_is_fitted(self)
        Z = check_array(X, dtype=np.float32, input_name="X")
        if Z.shape[1] != self.n_components_:
            raise ValueError(f"X has {Z.shape[1]} features, but {type(self).__name__}."
                             f"inverse_transform is expecting {self.n_components_} features "
                             "(the code size n_components_) as input.")
        return self._decode(Z)

    def reconstruct(self, X):
        """``inverse_transform(transform(X))`` in one pass (unpooling indices included)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._from_module(self._batched(lambda x: self.module_(x)["recon"],
                                               self._to_module(X)))

    def score_samples(self, X):
        """Per-sample score, higher = more normal: minus the squared reconstruction error
        summed over features, ``-sum_j (x_j - x_hat_j)^2`` (units of X squared).
        Shape (n_samples,), float64 (computed in float64, so a row's score does not depend
        on the other rows in the batch)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        m = self._float64_module()
        recon = self._from_module(self._batched(lambda x: m(x.double())["recon"],
                                                self._to_module(X)))
        return -np.square(X.astype(np.float64) - recon).sum(axis=1)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` over X (same units). ``y`` is ignored."""
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples=1, random_state=None):
        """Generate ``n_samples`` new rows (n_samples, n_features_in_), float32: codes drawn
        from the density fitted on the training codes (``sampler``), then decoded."""
        check_is_fitted(self)
        _positive_int("n_samples", n_samples)
        return self._decode(self.sampler_.sample(n_samples, check_random_state(random_state)))

    @property
    def _n_features_out(self):
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = False
        return tags

    # --- saving --------------------------------------------------------------------------
    def _extra_tensors(self) -> dict:
        return self.sampler_.to_tensors() if hasattr(self, "sampler_") else {}

    def _restore(self, module, state, extra):
        super()._restore(module, state, extra)
        if any(k.startswith("sampler/") for k in extra):
            self.sampler_ = CodeDensity.from_tensors(extra, self.n_components_)
