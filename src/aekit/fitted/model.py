"""``FittedAutoencoder``: everything true of one trained autoencoder, in one object.

It owns the module, the objective it was trained with (the likelihood that defines the
ELBO), the input layout (image shape, padding), the code density used to generate (a VAE's
prior, or a density fitted on a plain autoencoder's training codes) and the one inference
path every entry point uses: estimators, applications, evaluation, plots, the report and
the CLI all call these methods, so one model gives one set of numbers.

Inference runs in chunks of exactly ``INFER_ROWS`` rows (the last one zero-padded): a float32
matrix product's rounding depends on its shape, so a fixed chunk shape makes each row's
result independent of how many rows the call holds. Scores (reconstruction errors, ELBO,
log-likelihood) are computed in float64 on a float64 copy of the module.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils import check_random_state

from aekit.errors import ConfigError, DataError, ModelFileError
from aekit.fitted import files
from aekit.fitted.density import STORED as STORED_DENSITIES
from aekit.fitted.density import CodeDensity, IndexPriorDensity, StandardNormal, \
    check_codes, fit_density, prior_of
from aekit.fitted.entropy import EntropyModel
from aekit.fitted.layout import InputLayout
from aekit.losses import Objective, importance_log_weights, negative_log_likelihood, perplexity
from aekit.models.heads import CodeHead
from aekit.models.priors import kl_to_standard_normal
from aekit.models.segmentation import SegmentationConfig
from aekit.models.semisupervised import NETWORKS
from aekit.models.vq import VQConfig
from aekit.training import threads

INFER_ROWS = 64
ERROR_METRICS = ("sse", "mse", "bce")


def default_objective(module) -> Objective:
    """The objective a bare module implies: Bernoulli likelihood for a sigmoid output,
    Gaussian for a linear one (the pairs aekit's estimators train)."""
    sigmoid = module.output_activation == "sigmoid"
    return Objective(likelihood="bernoulli" if sigmoid else "gaussian")


def _saved_density(weights: Path, module, rec: dict, extra: dict):
    """The code density saved beside a plain autoencoder (None for a VAE, whose density is
    its prior, and for a bare module saved without one). A density the record names must
    be in the weights, and the other way round: a folder that lost its sampler tensors is
    refused here, not when ``sample`` is first called."""
    found = any(k.startswith("sampler/") for k in extra)
    kind = rec.get("density")
    if kind is not None and kind not in ("prior", *STORED_DENSITIES):
        raise TypeError(f"'density' must be null or one of "
                        f"{['prior', *STORED_DENSITIES]}, got {kind!r}")
    if module.variational:
        return None
    if "density" in rec:  # folders of the first version have no record: the tensors decide
        if kind == "prior":
            raise TypeError("'density' is 'prior' but the model is not variational")
        if kind is not None and not found:
            raise ModelFileError(
                f"{weights}: no code density: config.json records a {kind!r} density but "
                f"the file holds no 'extra/sampler/{kind}/...' tensors, so the model could "
                "not sample; save the model again")
        if kind is None and found:
            raise ModelFileError(f"{weights}: holds code-density tensors (extra/sampler/...) "
                                 "but config.json records no density")
    if not found:
        return None
    try:
        density = CodeDensity.from_tensors(extra, int(module.code_size))
    except ModelFileError as exc:
        raise ModelFileError(f"{weights}: {exc}") from None
    if kind is not None and density.kind != kind:
        raise ModelFileError(f"{weights}: holds a {density.kind!r} code density but "
                             f"config.json records {kind!r}")
    return density


def _saved_entropy(weights: Path, module, rec: dict, extra: dict):
    """The entropy model saved with the model (None in folders written before compression
    existed, which record nothing). A record that names one needs its tensors, and the
    other way round."""
    said = rec.get("entropy_model")
    if said is not None and not isinstance(said, bool):
        raise TypeError(f"'entropy_model' must be true or false, got {said!r}")
    try:
        entropy = EntropyModel.from_tensors(extra, int(module.code_size))
    except ModelFileError as exc:
        raise ModelFileError(f"{weights}: {exc}") from None
    if said and entropy is None:
        raise ModelFileError(f"{weights}: config.json records an entropy model but the file "
                             "holds no 'extra/entropy/...' tensors; save the model again")
    if said is False and entropy is not None:
        raise ModelFileError(f"{weights}: holds entropy-model tensors (extra/entropy/...) but "
                             "config.json records none")
    return entropy


def _saved_head(where, module, extra: dict):
    """A classifier's head from the folder's ``head/`` tensors (None when there are none):
    its size comes from the tensors, checked against the module's code."""
    state = {k[len("head/"):]: v.float() for k, v in extra.items() if k.startswith("head/")}
    if not state:
        return None
    weight = state.get("linear.weight")
    if weight is None or weight.ndim != 2 or weight.shape[1] != module.code_size:
        raise ModelFileError(f"{where}: classifier head tensors do not match the "
                             f"{module.code_size}-d code")
    head = CodeHead(module.code_size, weight.shape[0])
    try:
        head.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelFileError(f"{where}: classifier head tensors are damaged: "
                             f"{str(exc).splitlines()[0]}") from None
    return head.eval()


class _FittedOnFirstUse:
    """An attribute that :meth:`defer` leaves to be fitted from ``pending`` by
    ``fit(obj, pending)`` on its first read; assigning it sets it outright. Kept in the
    instance dict as ``_NAME`` and ``_pending_NAME``."""

    def __init__(self, fit, doc: str):
        self.fit, self.__doc__ = fit, doc

    def __set_name__(self, owner, name):
        self.value, self.pending = f"_{name}", f"_pending_{name}"

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        pending = obj.__dict__.get(self.pending)
        if pending is not None:
            obj.__dict__[self.value] = self.fit(obj, pending)
            obj.__dict__[self.pending] = None
        return obj.__dict__.get(self.value)

    def __set__(self, obj, value):
        obj.__dict__[self.pending] = None
        obj.__dict__[self.value] = value

    def defer(self, obj, pending) -> None:
        obj.__dict__[self.value] = None
        obj.__dict__[self.pending] = pending


def _finite(out: np.ndarray, given: np.ndarray, name: str, what: str) -> np.ndarray:
    """``out`` when every value is finite; else a DataError naming the first row whose
    ``what`` overflowed float32 (a finite input far beyond any training data: refused on
    every path, never returned as NaN or inf; docs/reliability.md)."""
    if out.size == 0:
        return out
    bad = ~np.isfinite(out.reshape(len(out), -1)).all(axis=1)
    if not bad.any():
        return out
    row = int(np.argmax(bad))
    peak = float(np.abs(given[row]).max())
    raise DataError(f"{name}: row {row} (0-based): its {what} overflows float32 (its largest "
                    f"|value| is {peak:.3g}, far outside what the model was trained on); "
                    f"{int(bad.sum())} row(s) refused")


class FittedModel:
    """What every trained aekit network shares: its module, its input layout (user rows <->
    network rows), the one inference path (:meth:`run`), its folder on disk and ONNX export.
    :class:`FittedAutoencoder` and :class:`FittedSegmenter` are the two kinds; loading a
    folder gives the one it holds (:meth:`read`)."""

    def __init__(self, module, *, layout: InputLayout | None = None, seed: int = 0,
                 history: list | None = None):
        if not (isinstance(module, torch.nn.Module) and hasattr(module, "config")
                and hasattr(module, "encode")):
            raise ConfigError(f"expected an aekit network module, got "
                              f"{type(module).__name__}")
        self.module = module  # inference sets eval() and restores the caller's mode
        self.layout = layout if layout is not None else InputLayout.of_module(module)
        if self.layout.module_features != module.config.n_features:
            raise ConfigError(f"the input layout has {self.layout.module_features} values per "
                              f"row but the module takes {module.config.n_features}")
        self.seed = int(seed)
        self.history = history

    @property
    def variational(self) -> bool:
        return bool(self.module.variational)

    @property
    def classifies(self) -> bool:
        """Whether :meth:`classify` gives class probabilities (a classifier's model)."""
        return False

    # Whether :meth:`reconstruct` gives the model's reconstruction of its input (an
    # autoencoder's; M2's under the class it infers); a segmenter and the ladder have none.
    reconstructs = True
    # Whether its codes are codebook indices (a VQ-VAE's), not points of a space: no
    # interpolation, code density, compression or probes on their values.
    discrete_codes = False

    @property
    def code_size(self) -> int:
        return int(self.module.code_size)

    @property
    def n_features(self) -> int:
        return self.layout.n_features

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) to show one input row as an image (ConfigError when there is none)."""
        return self.layout.display_shape()

    def with_objective(self, objective: Objective | None) -> "FittedModel":
        """This model scored under another likelihood; None: self. Only an autoencoder has
        a likelihood."""
        if objective is None:
            return self
        raise ConfigError(f"a {type(self).__name__} has no likelihood to score under another "
                          "objective")

    # --- checks --------------------------------------------------------------------------
    def check_input(self, X, name: str = "X") -> np.ndarray:
        """X in any accepted layout -> finite float32 (n, D) (see :class:`InputLayout`)."""
        return self.layout.flat(X, name)

    # --- the one inference path ------------------------------------------------------------
    @torch.no_grad()
    def run(self, fn, T: torch.Tensor, module=None, samples: int = 1) -> torch.Tensor:
        """``fn(chunk) -> (rows, ...)`` over T in chunks of exactly INFER_ROWS rows (the
        last one zero-padded), in eval mode; the previous train/eval mode is restored.
        ``samples``: forward passes ``fn`` makes per row (importance samples), for the
        thread policy."""
        module = self.module if module is None else module
        was_training = module.training
        module.eval()
        dev = next(module.parameters()).device
        starts = range(0, len(T), INFER_ROWS)

        @torch.no_grad()  # grad mode is per thread: the workers' too
        def one(i):
            chunk = T[i:i + INFER_ROWS]
            rows = len(chunk)
            if rows < INFER_ROWS:
                pad = chunk.new_zeros((INFER_ROWS - rows, *chunk.shape[1:]))
                chunk = torch.cat([chunk, pad])
            return fn(chunk.to(dev))[:rows].cpu()

        # The thread count comes from one chunk's work (aekit.training.threads). Above the
        # bar the chunks are the shards, each on a worker of one intra-op thread: rows
        # never meet at inference, so nothing waits at a per-operator barrier and a chunk's
        # numbers do not depend on which worker ran it.
        flops = INFER_ROWS * self._row_flops() * samples
        workers = threads.inference_workers(flops, len(starts)) if dev.type == "cpu" else 1
        try:
            if workers > 1:
                pool = threads.worker_pool(workers)
                try:
                    outs = list(pool.map(one, starts))
                finally:  # on Ctrl-C, drop the chunks not started
                    pool.shutdown(cancel_futures=True)
            else:
                with threads.inference_threads(flops):
                    outs = [one(i) for i in starts]
        finally:
            module.train(was_training)
        return torch.cat(outs) if outs else torch.empty(0)

    def _row_flops(self) -> float:
        """One row's forward FLOPs through the module (counted once, then cached)."""
        if getattr(self, "_row_flops_cache", None) is None:
            n = getattr(getattr(self.module, "config", None), "n_features", None)
            self._row_flops_cache = threads.forward_flops_per_row(self.module, n) \
                if isinstance(n, int) else 0.0
        return self._row_flops_cache

    def _module64(self):
        """A float64 copy of the module (tied weights stay tied: one deepcopy)."""
        return copy.deepcopy(self.module).double().eval()

    def encode(self, X) -> np.ndarray:
        """Codes (n, k) float32; a VAE's posterior mean mu."""
        X = self.check_input(X)
        T = self.layout.to_module(X)
        out = self.run(self.module.encode, T)
        return _finite(out.numpy().reshape(len(T), self.code_size), X, "X", "code")

    # --- files ---------------------------------------------------------------------------
    def record(self) -> dict:
        """The JSON part of this object ("fitted" in config.json)."""
        return {"n_features": self.layout.n_features,
                "image_shape": list(self.layout.image_shape) if self.layout.image_shape else None,
                "pad": self.layout.pad, "seed": self.seed}

    def save(self, path, *, extra_config: dict | None = None,
             extra_tensors: dict | None = None, history: list | None = None):
        """Write the model folder ``path`` (config.json + model.safetensors) atomically."""
        config = {"fitted": self.record(), **(extra_config or {})}
        history = self.history if history is None else history
        return files.save(path, self.module, extra_config=config, extra_tensors=extra_tensors,
                          history=history)

    @classmethod
    def from_parts(cls, where, module, config: dict, extra: dict) -> "FittedModel":
        """Rebuild from a model folder's parts (``files.load_module``): a FittedSegmenter
        for a segmentation network, else a FittedAutoencoder. Folders written before the
        fitted record existed (estimator state, or a bare module) still load; a
        segmentation network's folder written with an autoencoder's record (objective,
        density) loads without them."""
        try:
            rec = config.get("fitted")
            if rec is None:  # aekit-model-1 folders of the first version
                state = (config.get("estimator") or {}).get("state") or {}
                params = (config.get("estimator") or {}).get("params") or {}
                shape = state.get("image_shape_")
                rec = {"n_features": state.get("n_features_in_", module.config.n_features),
                       "image_shape": shape, "pad": state.get("_pad_", 0),
                       "seed": state.get("seed_", 0),
                       "n_mc_samples": params.get("n_mc_samples", 8)}
                if shape is None and module.config.image_shape is not None:
                    rec["image_shape"] = module.config.image_shape
            if not isinstance(rec, dict):
                raise TypeError("'fitted' must be an object")
            segmenter = isinstance(module.config, SegmentationConfig)
            few_labels = FittedClassifier.holds(module)
            for key in ("n_features", "pad", "seed",
                        *(() if segmenter or few_labels else ("n_mc_samples",))):
                if isinstance(rec.get(key), bool) or not isinstance(rec.get(key), int) \
                        or not 0 <= rec[key] < 2**63:
                    raise TypeError(f"'{key}' must be an integer >= 0")
            shape = rec.get("image_shape")
            if shape is not None and not (isinstance(shape, (list, tuple)) and len(shape) == 3 and all(
                    isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)):
                raise TypeError("'image_shape' must be null or three positive integers")
            layout = InputLayout(rec["n_features"], shape, rec["pad"])
            if segmenter:
                return FittedSegmenter(module, layout=layout, seed=rec["seed"])
            if isinstance(module.config, VQConfig):
                return FittedQuantized(module, layout=layout, seed=rec["seed"],
                                       objective=Objective(**config["objective"])
                                       if "objective" in config else None)
            if few_labels:  # (its record holds the class labels)
                return FittedClassifier(module, layout=layout, seed=rec["seed"],
                                        classes=rec.get("classes"))
            objective = (Objective(**config["objective"]) if "objective" in config
                         else default_objective(module))
            density = _saved_density(Path(where).with_name(files.WEIGHTS_NAME), module, rec,
                                     extra)
            entropy = _saved_entropy(Path(where).with_name(files.WEIGHTS_NAME), module, rec,
                                     extra)
            head = _saved_head(where, module, extra)
            classes = ((config.get("estimator") or {}).get("state") or {}).get("classes_") \
                if head is not None else None
            return FittedAutoencoder(module, objective=objective, layout=layout,
                                     density=density, seed=rec["seed"],
                                     n_mc_samples=max(1, rec["n_mc_samples"]),
                                     entropy=entropy, head=head, classes=classes)
        except ModelFileError:
            raise
        except files.DAMAGE_ERRORS as exc:
            raise ModelFileError(f"{where}: invalid fitted-model record: "
                                 f"{files.describe(exc)}") from None

    @classmethod
    def load(cls, path) -> "FittedModel":
        """The fitted model of a model folder or run folder (never unpickles)."""
        return cls.read(path)[0]

    @classmethod
    def read(cls, path):
        """(fitted model, its folder, config.json, extra tensors) of a model folder or run
        folder: what :func:`aekit.load` also needs to rebuild an estimator."""
        folder = files.resolve_folder(path)
        module, config, extra = files.load_module(folder)
        fitted = cls.from_parts(folder / files.CONFIG_NAME, module, config, extra)
        fitted.history = files.read_history(folder)
        return fitted, folder, config, extra

    def export_onnx(self, path, part: str | None = None, *, threshold=None,
                    score: str = "sse", force: bool = False):
        """Write ``part`` ('autoencoder', 'encoder', 'decoder', 'classifier', 'segmenter';
        None: :attr:`onnx_part`) as an ONNX file with a dynamic batch axis, the input
        layout, output activation, score and ``threshold`` in its metadata, after checking
        it against PyTorch in onnxruntime; see :func:`aekit.fitted.onnx.export_onnx`
        (needs ``pip install 'aekit[onnx]'``)."""
        from aekit.fitted.onnx import export_onnx

        return export_onnx(self, path, part, threshold=threshold, score=score, force=force)


class FittedAutoencoder(FittedModel):
    """A trained autoencoder with its objective, input layout and code density (and, for
    an :class:`~aekit.estimators.AutoencoderClassifier`, the class head on its codes).

    module: an aekit ``Autoencoder`` / ``VariationalAutoencoder``. objective: the training
    :class:`~aekit.losses.Objective` (default: :func:`default_objective`). layout: the
    :class:`InputLayout` (default: the module's own width and image shape). density: a
    :class:`CodeDensity` for a plain AE (None: none fitted yet), ignored for a VAE, whose
    density is its prior. seed: default seed of the Monte Carlo draws in scores.
    n_mc_samples: default draws of z per row in :meth:`elbo`. entropy: the
    :class:`~aekit.fitted.entropy.EntropyModel` of the training codes (compression; None:
    none fitted yet). head, classes: a classifier's head (codes -> logits) and its class
    labels, in the order of the logits (None: not a classifier).
    """

    onnx_part = "autoencoder"  # what export_onnx writes by default

    def __init__(self, module, *, objective: Objective | None = None,
                 layout: InputLayout | None = None, density=None, seed: int = 0,
                 n_mc_samples: int = 8, history: list | None = None,
                 entropy: EntropyModel | None = None, head=None, classes=None):
        super().__init__(module, layout=layout, seed=seed, history=history)
        if isinstance(module.config, SegmentationConfig):
            raise ConfigError("a segmentation network is a FittedSegmenter, not an autoencoder")
        self.objective = objective if objective is not None else default_objective(module)
        self.density = prior_of(module) if self.variational else density
        self.n_mc_samples = int(n_mc_samples)
        self.entropy = entropy
        self.head, self.classes = head, classes

    # --- the code density and the entropy model, fitted when first needed ------------------
    density = _FittedOnFirstUse(
        lambda self, pending: fit_density(*pending),
        """The code density ``sample`` draws from. After :meth:`fit_density` the mixture is
        fitted on first use (``sample``, ``save``, a pickle): most fits never sample, and EM
        on the codes cost up to a third of a short fit (issue 27). Seeded, so the density is
        the one an eager fit gave.""")
    entropy = _FittedOnFirstUse(
        lambda self, codes: EntropyModel.fit(self, codes),
        """The entropy model of the training codes (compression), fitted like the density:
        on first use (compress, save, a pickle) from the codes :meth:`fit_density` kept.""")

    def __getstate__(self):
        """Pickles carry the fitted density and entropy model, not the codes they are
        fitted from."""
        self.density, self.entropy  # noqa: B018 - fits what is pending
        return dict(self.__dict__)

    # --- what the model is -------------------------------------------------------------
    @property
    def free_code_note(self) -> str | None:
        """How a free code (sampled, interpolated, typed in) is decoded, when that differs
        from reconstructing an input: a max-unpooling decoder has no encoder indices for
        it and unpools each value to the top-left cell of its 2x2 window (see
        :mod:`aekit.models.conv`). None for every other decoder."""
        c = self.module.config
        if c.architecture == "conv" and c.decoder == "unpool":
            return ("max-unpooling decoder: free codes are decoded with fixed top-left "
                    "pooling indices (inputs use their own)")
        return None

    def with_objective(self, objective: Objective | None) -> "FittedAutoencoder":
        """This model scored under another likelihood (a shallow copy); None: self."""
        if objective is None:
            return self
        other = copy.copy(self)
        other.objective = objective
        return other

    # --- checks --------------------------------------------------------------------------
    def check_codes(self, Z, name: str = "Z") -> np.ndarray:
        """Codes (n, k) or one code (k,) -> finite float32 (n, k)."""
        if isinstance(Z, torch.Tensor):
            Z = Z.detach().cpu().numpy()
        Z = np.asarray(Z)
        if Z.dtype.kind not in "biuf":
            raise DataError(f"{name} must hold numbers, got dtype {Z.dtype}")
        Z = np.atleast_2d(Z)
        if Z.ndim != 2 or Z.shape[1] != self.code_size:
            raise DataError(f"{name} must have shape (n, {self.code_size}) (the code size), got "
                            f"{Z.shape}")
        with np.errstate(over="ignore"):
            Z = np.ascontiguousarray(Z, dtype=np.float32)
        if not np.isfinite(Z).all():
            raise DataError(f"{name} contains NaN or infinite values")
        return Z

    def decode(self, Z) -> np.ndarray:
        """Outputs (n, D) float32 of codes (n, k), after the output activation (see
        ``free_code_note`` for an unpooling decoder)."""
        Z = self.check_codes(Z)
        out = self.run(self.module.decode, torch.from_numpy(Z))
        return _finite(self.layout.crop(out.reshape(len(Z), -1)).numpy(), Z, "Z", "output")

    @staticmethod
    def _logits(m, x):
        """Deterministic decoder logits of x: z = the code (mu for a VAE), with the
        encoder's pooling indices for an unpooling decoder."""
        z, context = m.encode_with_context(x)
        return m.decode_logits(z, context)

    def reconstruct(self, X) -> np.ndarray:
        """decode(encode(X)) in one pass, (n, D) float32 (a VAE's decoder mean at z = mu;
        an unpooling decoder uses the input's own pooling indices)."""
        X = self.check_input(X)
        T = self.layout.to_module(X)
        out = self.run(self.module.reconstruct, T)
        return _finite(self.layout.crop(out.reshape(len(T), -1)).numpy(), X, "X",
                       "reconstruction")

    # --- scores (float64) ----------------------------------------------------------------
    def reconstruction_error(self, X, metric: str = "sse") -> np.ndarray:
        """Per-row error of the deterministic reconstruction, (n,) float64: "sse" sum of
        squared errors over features (units of X squared), "mse" their mean, "bce" mean
        binary cross-entropy per value in nats (inputs in [0, 1])."""
        if metric not in ERROR_METRICS:
            raise ConfigError(f"metric {metric!r} is not one of {list(ERROR_METRICS)}")
        X = self.check_input(X)
        m, d = self._module64(), self.n_features

        def err(x):
            x = x.double()
            logits = self._logits(m, x)[:, :d]
            target = x[:, :d]
            if metric == "bce":
                if m.output_activation == "sigmoid":  # stable, from the logits
                    return F.binary_cross_entropy_with_logits(logits, target,
                                                              reduction="none").mean(1)
                p = logits.clamp(1e-7, 1 - 1e-7)
                return -(target * torch.log(p) + (1 - target) * torch.log1p(-p)).mean(1)
            sq = (m.output(logits) - target).pow(2)
            return sq.sum(1) if metric == "sse" else sq.mean(1)

        return self.run(err, self.layout.to_module(X), module=m).numpy().astype(np.float64)

    def _variational(self, what: str) -> None:
        if not self.variational:
            raise ConfigError(f"{what} is defined for variational autoencoders only")

    def _eps(self, n: int, random_state) -> torch.Tensor:
        """n standard-normal draws (n, k), float64, shared by every row (common random
        numbers): a row's score depends only on the row and the seed."""
        if isinstance(random_state, np.random.Generator):
            random_state = int(random_state.integers(2**62))
        seed = self.seed if random_state is None else int(random_state)
        g = torch.Generator().manual_seed(seed)
        return torch.randn((n, self.code_size), generator=g, dtype=torch.float64)

    def _in_likelihood_domain(self, X: np.ndarray) -> np.ndarray:
        """X, when the likelihood is defined on it: a Bernoulli likelihood scores values in
        [0, 1] only (for x > 1 its log p(x|z) is positive and grows without bound, so a row
        far outside would score as the most normal; docs/reliability.md)."""
        if self.objective.likelihood == "bernoulli":
            bad = ((X < 0) | (X > 1)).any(axis=1)
            if bad.any():
                row = int(np.argmax(bad))
                raise DataError(f"X: row {row} (0-based) holds values outside [0, 1] (up to "
                                f"{float(np.abs(X[row]).max()):.3g}); this model's Bernoulli "
                                "likelihood is defined on [0, 1] only")
        return X

    def _nll(self, m, logits, x):
        """-log p(x|z) per row (nats, summed over the D real features)."""
        d = self.n_features
        out = {"logits": logits[:, :d]}
        if self.objective.likelihood != "bernoulli":  # Bernoulli reads only the logits
            out["recon"] = m.output(logits)[:, :d]
        return negative_log_likelihood(out, x[:, :d], self.objective.likelihood,
                                       self.objective.likelihood_scale)

    def elbo(self, X, n_samples: int | None = None, random_state=None) -> np.ndarray:
        """ELBO per row in nats, (n,) float64: E_q[log p(x|z)] - KL(q(z|x) || p(z)) with
        beta = 1 (the true bound on log p(x), whatever beta was trained with).

        The expectation is a mean over ``n_samples`` (default ``n_mc_samples``) draws
        z_s = mu + sigma * eps_s, the eps_s shared by all rows (seeded by ``random_state``,
        default the model's seed). The KL term: closed form for the N(0, I) prior
        (Kingma & Welling 2014, App. B); for a VampPrior, log q(z_s|x) - log p(z_s) at the
        same draws (:meth:`kl`)."""
        return self._elbo_terms(X, n_samples, random_state, "elbo")

    def kl(self, X, n_samples: int | None = None, random_state=None) -> np.ndarray:
        """The ELBO's KL(q(z|x) || p(z)) per row, nats, (n,) float64, as :meth:`elbo`
        computes it (same draws for the same arguments)."""
        return self._elbo_terms(X, n_samples, random_state, "kl")

    def _elbo_terms(self, X, n_samples, random_state, which: str) -> np.ndarray:
        self._variational("the ELBO" if which == "elbo" else "the KL term")
        S = self.n_mc_samples if n_samples is None else int(n_samples)
        if S < 1:
            raise ConfigError(f"n_samples must be >= 1, got {n_samples}")
        X = self._in_likelihood_domain(self.check_input(X))
        eps, m = self._eps(S, random_state), self._module64()
        closed = m.prior.kind == "standard"

        def fn(x):
            x = x.double()
            mu, logvar = m.encode_distribution(x)
            nll, kl = 0.0, 0.0
            for e in eps.to(x.device):
                z = mu + torch.exp(0.5 * logvar) * e
                if which == "elbo":
                    nll = nll + self._nll(m, m.decode_logits(z), x)
                if not closed:
                    kl = kl + m.kl_to_prior(mu, logvar, z)
            kl = m.kl_to_prior(mu, logvar, None) if closed else kl / S
            return -(nll / S) - kl if which == "elbo" else kl

        return self.run(fn, self.layout.to_module(X), module=m,
                        samples=S if which == "elbo" else 1).numpy().astype(np.float64)

    def log_likelihood(self, X, k: int = 100, random_state=None) -> np.ndarray:
        """Importance-sampled log p(x) per row, nats, (n,) float64 (Burda, Grosse &
        Salakhutdinov 2016, eq. 8):
        log p(x) ~= logsumexp_i [log p(x|z_i) + log p(z_i) - log q(z_i|x)] - log k,
        z_i = mu + sigma * eps_i, the eps_i shared by all rows. Its expectation is the ELBO
        for k = 1 and never decreases with k."""
        self._variational("the log-likelihood")
        if k < 1:
            raise ConfigError(f"k (importance samples) must be >= 1, got {k}")
        X = self._in_likelihood_domain(self.check_input(X))
        eps, m = self._eps(k, random_state), self._module64()
        per_pass = max(1, 2**14 // INFER_ROWS)  # importance samples decoded at once

        def fn(x):
            x = x.double()
            mu, logvar = m.encode_distribution(x)  # (b, kz)
            log_w = [importance_log_weights(
                m, mu, logvar, x, eps[start:start + per_pass].to(x.device)[:, None, :],
                lambda logits, t: self._nll(m, logits, t))[0]  # (s, b), eps shared by rows
                for start in range(0, k, per_pass)]
            return torch.logsumexp(torch.cat(log_w), dim=0) - math.log(k)

        return self.run(fn, self.layout.to_module(X), module=m,
                        samples=k).numpy().astype(np.float64)

    def kl_per_dimension(self, X) -> np.ndarray:
        """Mean over rows of KL(q(z_j|x) || N(0, 1)) per latent dim, (k,) float64, nats;
        sums to the ELBO's KL term averaged over X. Only for the N(0, I) prior: a
        VampPrior is not a product over dimensions (its KL per row: :meth:`kl`)."""
        self._variational("the KL per dimension")
        if self.module.prior.kind != "standard":
            raise ConfigError(f"the KL per dimension needs the N(0, I) prior, a product over "
                              f"dimensions; this model's prior is {self.module.prior.kind!r}"
                              " (its KL per row: kl(X); its active units: "
                              "aekit.evaluation.active_units)")
        X, m = self.check_input(X), self._module64()
        kl = self.run(lambda x: kl_to_standard_normal(*m.encode_distribution(x.double())),
                      self.layout.to_module(X), module=m)
        return kl.numpy().reshape(len(X), self.code_size).mean(axis=0)

    def score_samples(self, X) -> np.ndarray:
        """Higher = more normal, (n,) float64: a VAE's ELBO (nats), else minus the summed
        squared reconstruction error (units of X squared). A row whose score is not a
        number (a huge input overflowing even float64, e.g. exp of a huge log-variance
        minus itself) scores -inf: as abnormal as can be, the exported ONNX graph's +inf
        error (docs/reliability.md)."""
        scores = self.elbo(X) if self.variational else -self.reconstruction_error(X, "sse")
        return np.where(np.isnan(scores), -np.inf, scores)

    # --- generating ----------------------------------------------------------------------
    def fit_density(self, X, kind: str = "gmm", n_components: int = 10) -> "FittedAutoencoder":
        """Fit the code density ``kind`` ('gmm', 'gaussian', 'uniform') on the codes of X
        (a VAE keeps its prior), and the entropy model used to compress codes
        (:meth:`fit_entropy`) on the same codes. Both are fitted when first used; the
        codes are checked now."""
        codes = self.encode(X)
        # codes nothing can be fitted to fail here, not at the first sample or save
        check_codes(codes, "gaussian" if self.variational or kind == "prior" else kind)
        if not self.variational:
            FittedAutoencoder.density.defer(self, (kind, codes, n_components, self.seed))
        FittedAutoencoder.entropy.defer(self, codes)
        return self

    def fit_entropy(self, X) -> "FittedAutoencoder":
        """Fit the entropy model of the codes of X (training rows): per-dimension code
        quantiles, medians and decoder gains (:mod:`aekit.fitted.entropy`); saved with
        the model, it is all :mod:`aekit.applications.compression` needs."""
        self.entropy = EntropyModel.fit(self, self.encode(X))
        return self

    def entropy_model(self) -> EntropyModel | None:
        """The entropy model compression uses: the fitted one; for a VAE without one, one
        derived from its prior (fixed-seed draws); else None."""
        if self.entropy is None and self.variational:
            self.entropy = EntropyModel.from_prior(self)
        return self.entropy

    def density_like(self, kind: str, X=None, n_components: int = 10):
        """A density of ``kind`` over this model's codes: 'prior' is N(0, I); the others
        are fitted on the codes of X."""
        if kind == "prior":
            return prior_of(self.module) if self.variational else StandardNormal(self.code_size)
        if X is None:
            raise ConfigError(f"a {kind!r} density is fitted on training codes: pass X_fit")
        return fit_density(kind, self.encode(X), n_components, self.seed)

    def sample_codes(self, n: int, random_state=None, density=None) -> np.ndarray:
        """n codes (n, k) float32 from ``density`` (default: the model's own)."""
        density = self.density if density is None else density
        if density is None:
            raise ConfigError("this model has no code density to sample from (a bare "
                              "module): fit one with fit_density(X), or pass X_fit")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ConfigError(f"n_samples must be an integer >= 0, got {n!r}")
        return density.sample(int(n), check_random_state(random_state))

    def sample(self, n: int = 1, random_state=None, density=None) -> np.ndarray:
        """n generated rows (n, D) float32: codes drawn from the density, decoded (decoder
        means)."""
        return self.decode(self.sample_codes(n, random_state, density).reshape(-1,
                                                                              self.code_size))

    # --- classifying (a classifier's fitted model) ----------------------------------------
    @property
    def classifies(self) -> bool:
        return self.head is not None

    def classify(self, X) -> np.ndarray:
        """Class probabilities (n, n_classes) float64 of the head on the codes of X, the
        columns in the order of :attr:`classes`."""
        if self.head is None:
            raise ConfigError("classify: this model has no class head (train an "
                              "AutoencoderClassifier)")
        X = self.check_input(X)
        head, m = self.head, self.module
        logits = self.run(lambda x: head(m.encode(x)), self.layout.to_module(X))
        return torch.softmax(logits.double(), dim=1).numpy()

    # --- files ---------------------------------------------------------------------------
    def record(self) -> dict:
        """The JSON part of this object (the tensors are the module's and the density's)."""
        return {**super().record(), "n_mc_samples": self.n_mc_samples,
                "density": None if self.density is None else self.density.kind,
                "entropy_model": self.entropy is not None}

    def save(self, path, *, extra_config: dict | None = None,
             extra_tensors: dict | None = None, history: list | None = None):
        """Write the model folder ``path`` (config.json + model.safetensors) atomically:
        the module, the objective, the density and entropy model."""
        tensors = dict(self.density.to_tensors()) if self.density is not None else {}
        if self.entropy is not None:
            tensors.update(self.entropy.to_tensors())
        if self.head is not None:
            tensors.update({f"head/{k}": v for k, v in self.head.state_dict().items()})
        tensors.update(extra_tensors or {})
        return super().save(path, extra_config={"objective": self.objective.to_dict(),
                                                **(extra_config or {})},
                            extra_tensors=tensors, history=history)

    def __repr__(self) -> str:
        kind = "VAE" if self.variational else "autoencoder"
        return (f"FittedAutoencoder({kind}, {self.module.config.architecture}, "
                f"{self.n_features} -> {self.code_size})")


class FittedSegmenter(FittedModel):
    """A trained segmentation network (:class:`aekit.models.SegmentationNetwork`): a class
    for every pixel (:meth:`segment`). It encodes (its last feature map) but has no code
    to decode and no reconstruction: those calls are refused by name."""

    onnx_part = "segmenter"
    reconstructs = False

    def segment(self, X, proba: bool = False) -> np.ndarray:
        """Per-pixel classes (n, H, W) int64 (the argmax of the logits), or with ``proba``
        the softmax probabilities (n, n_classes, H, W) float32."""
        T = self.layout.to_module(self.check_input(X))
        m = self.module
        fn = (lambda x: torch.softmax(m.class_logits(x), dim=1)) if proba else \
            (lambda x: m.class_logits(x).argmax(dim=1))
        out = self.run(fn, T)
        shape = (len(T), *(self.layout.image_shape[1:]))
        if proba:
            return out.numpy().reshape(len(T), -1, *shape[1:]).astype(np.float32, copy=False)
        return out.numpy().reshape(shape).astype(np.int64, copy=False)

    @property
    def n_classes(self) -> int:
        return int(self.module.config.n_classes)

    def __getattr__(self, name):
        # An autoencoder's calls on a segmenter: one clear error, not an AttributeError.
        if name in AUTOENCODER_ONLY:
            raise ConfigError(f"{name}: this is a segmentation model; it predicts a class per "
                              "pixel (predict / aekit segment) and does not reconstruct")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        return (f"FittedSegmenter({self.module.config.decoder}, {self.n_features} -> "
                f"{self.n_classes} classes per pixel)")


class FittedClassifier(FittedModel):
    """A network trained on labelled and unlabelled rows together
    (:mod:`aekit.models.semisupervised`: the ladder network, M2): class probabilities
    (:meth:`classify`) and codes (:meth:`encode`); a generative one (M2, a model of x given
    its class) also decodes and samples by class (:meth:`sample` with ``y``, :meth:`decode`
    with a class per code). ``classes``: the class labels, in the order of the network's
    outputs."""

    onnx_part = "classifier"

    def __init__(self, module, *, layout: InputLayout | None = None, seed: int = 0,
                 history: list | None = None, classes=None):
        super().__init__(module, layout=layout, seed=seed, history=history)
        n = int(module.config.n_classes)
        if classes is None:
            classes = list(range(n))
        if not isinstance(classes, (list, tuple)):
            raise ModelFileError(f"class labels must be a list, got {classes!r}")
        if len(classes) != n:
            raise ModelFileError(f"the network has {n} classes but {len(classes)} labels "
                                 "were given")
        self.classes = list(classes)

    @staticmethod
    def holds(module) -> bool:
        """Whether ``module`` is a few-label network (by its config's type)."""
        return isinstance(module.config, tuple(NETWORKS.values()))

    @property
    def variational(self) -> bool:
        return False  # no ELBO of x alone to score with

    @property
    def generative(self) -> bool:
        """Whether the network models x given its class (it decodes and samples)."""
        return self.module.generative

    @property
    def n_classes(self) -> int:
        return int(self.module.config.n_classes)

    @property
    def reconstructs(self) -> bool:
        return self.generative

    classifies = True

    def reconstruct(self, X) -> np.ndarray:
        """M2's reconstruction (n, D) float32: x encoded and decoded under the class q(y|x)
        finds most probable (the decoder's means)."""
        self._generator_only("reconstruct")
        X = self.check_input(X)
        m = self.module

        def fn(x):
            y = m.classify(x).argmax(dim=1)
            return m.decode(m.posterior(x, y)[0], y)

        return self.layout.crop(self.run(fn, self.layout.to_module(X))).numpy()

    def classify(self, X) -> np.ndarray:
        """Class probabilities (n, n_classes) float64, columns in the order of
        :attr:`classes`. Computed on a float64 copy of the network, as the scores are: in
        float32 a row's logits moved by ~1e-7 with its place in the chunk (scikit-learn's
        sample-order check failed on one run in two)."""
        X = self.check_input(X)
        m64 = self._module64()
        logits = self.run(m64.classify, self.layout.to_module(X).double(), module=m64)
        return torch.softmax(logits, dim=1).numpy()

    def class_index(self, y) -> np.ndarray:
        """Labels ``y`` (one, or one per row) -> the network's class indices; a label the
        model was not trained on is a DataError naming it."""
        y = np.asarray(y, dtype=object).reshape(-1)
        index = {c: i for i, c in enumerate(self.classes)}
        out = np.empty(len(y), dtype=np.int64)
        for i, v in enumerate(y):
            key = v.item() if hasattr(v, "item") else v
            if key not in index:
                raise DataError(f"y: class {key!r} is not one the model was trained on; "
                                f"its classes are {self.classes}")
            out[i] = index[key]
        return out

    def _generator_only(self, what: str) -> None:
        if not self.generative:
            raise ConfigError(f"{what}: this classifier ({self.module.config.name}) is not a "
                              "model of x given its class; method='m2' is")

    def decode(self, Z, y) -> np.ndarray:
        """Rows (n, D) float32 decoded from codes Z (n, k) under classes ``y`` (one label,
        or one per code)."""
        self._generator_only("decode")
        Z = np.asarray(Z, dtype=np.float32).reshape(-1, self.code_size)
        idx = self.class_index(y)
        if len(idx) == 1:
            idx = np.repeat(idx, len(Z))
        if len(idx) != len(Z):
            raise DataError(f"y: {len(idx)} labels for {len(Z)} codes")
        # one tensor through the inference path: the codes, then each row's class index
        T = torch.cat([torch.from_numpy(Z), torch.from_numpy(idx).unsqueeze(1).float()], dim=1)
        m, k = self.module, self.code_size
        out = self.run(lambda t: m.decode(t[:, :k], t[:, k].long()), T)
        return self.layout.crop(out).numpy()

    def sample(self, n: int = 1, y=None, random_state=None) -> np.ndarray:
        """n generated rows (n, D) float32: z ~ N(0, I) decoded (the decoder's means)
        under class ``y`` (a label of :attr:`classes`), one label per row, or None (classes
        drawn uniformly, the model's p(y))."""
        self._generator_only("sample")
        rng = check_random_state(random_state)
        if y is None:
            y = [self.classes[i] for i in rng.randint(self.n_classes, size=n)]
        Z = rng.standard_normal((n, self.code_size)).astype(np.float32)
        return self.decode(Z, y if np.ndim(y) == 0 else list(y))

    def record(self) -> dict:
        return {**super().record(), "classes": [c.item() if hasattr(c, "item") else c
                                                for c in self.classes]}

    def __repr__(self) -> str:
        return (f"FittedClassifier({self.module.config.name}, {self.n_features} -> "
                f"{self.n_classes} classes)")


class FittedQuantized(FittedAutoencoder):
    """A trained VQ-VAE (:mod:`aekit.models.vq`): its codes are index grids (n, h*w) into a
    codebook of K vectors, held as float32 (exact integers); its density is the network's
    own autoregressive prior over them (``sample``). ``objective``: its reconstruction
    loss (an :class:`~aekit.losses.Objective`), for the scores."""

    def __init__(self, module, *, objective=None, layout: InputLayout | None = None,
                 seed: int = 0, history: list | None = None):
        if not isinstance(module.config, VQConfig):
            raise ConfigError("a FittedQuantized needs a VQ-VAE network")
        super().__init__(module, objective=objective, layout=layout, seed=seed,
                         history=history)
        self.density = IndexPriorDensity(module)

    discrete_codes = True

    @property
    def codebook_size(self) -> int:
        return int(self.module.codebook_size)

    @property
    def grid(self) -> tuple[int, int]:
        """(h, w) of the index grid."""
        return tuple(int(v) for v in self.module.grid)

    def encode(self, X) -> np.ndarray:
        """Index grids (n, h*w) int64, cells in raster order (every entry point's codes)."""
        return super().encode(X).astype(np.int64)

    def check_codes(self, Z, name: str = "Z") -> np.ndarray:
        """Index grids (n, h*w) (or one (h*w,)) of whole numbers in [0, K) -> float32."""
        Z = super().check_codes(Z, name)
        bad = (Z != np.round(Z)) | (Z < 0) | (Z >= self.codebook_size)
        if bad.any():
            row = int(np.argmax(bad.any(axis=1)))
            raise DataError(f"{name}: row {row} (0-based) holds values that are not codebook "
                            f"indices (whole numbers in 0..{self.codebook_size - 1})")
        return Z

    def fit_density(self, X, kind: str = "gmm", n_components: int = 10):
        """Nothing to fit: the density is the network's prior (trained by the estimator's
        second phase)."""
        return self

    def entropy_model(self):
        raise ConfigError("compression codes continuous codes; a VQ-VAE's codes are codebook "
                          "indices (their bits: log2(codebook size) per index, or "
                          "aekit.fitted.FittedQuantized.prior_bits under its prior)")

    def density_like(self, kind: str, X=None, n_components: int = 10):
        if kind != "prior":
            raise ConfigError(f"a VQ-VAE's codes are codebook indices: a {kind!r} density "
                              "over them means nothing; its density is its prior ('prior')")
        return self.density

    def perplexity(self, X) -> float:
        """Codebook perplexity of X's codes: exp of the entropy of how often each code is
        used over every cell of every row (1 .. K; K when all are used equally)."""
        codes = self.encode(X)
        return float(perplexity(torch.from_numpy(codes), self.codebook_size))

    def prior_log_prob(self, Z) -> np.ndarray:
        """log p(grid) under the prior, nats per row (n,) float64, of index grids Z."""
        Z = self.check_codes(Z)
        prior = copy.deepcopy(self.module.prior).double().eval()
        return self.run(prior.log_prob, torch.from_numpy(Z).double(),
                        module=prior).numpy().astype(np.float64)

    def prior_bits(self, X) -> np.ndarray:
        """Bits per row of X's index grid under the prior, (n,) float64: what an entropy
        coder driven by the prior would spend (log2(K) * h * w without it)."""
        return -self.prior_log_prob(self.encode(X)) / math.log(2)

    def record(self) -> dict:
        return {**super().record(), "density": None, "entropy_model": False}

    def save(self, path, *, extra_config: dict | None = None,
             extra_tensors: dict | None = None, history: list | None = None):
        return FittedModel.save(self, path, extra_config={
            "objective": self.objective.to_dict(), **(extra_config or {})},
            extra_tensors=extra_tensors, history=history)

    def __repr__(self) -> str:
        h, w = self.grid
        return (f"FittedQuantized(VQ-VAE, {self.n_features} -> {h}x{w} indices of "
                f"{self.codebook_size} codes)")


# The autoencoder's calls that a FittedSegmenter refuses by name (methods only: a probe
# such as getattr(fitted, "objective", None) still reads as absent).
AUTOENCODER_ONLY = frozenset((
    "decode", "reconstruct", "reconstruction_error", "score_samples", "elbo", "kl",
    "log_likelihood", "kl_per_dimension", "sample", "sample_codes", "fit_density",
    "fit_entropy", "entropy_model", "density_like", "check_codes"))
