"""The one parameter table: every keyword argument of every aekit estimator, once.

Each :class:`Param` says what a keyword accepts (scikit-learn constraints), what it does
(plain text), where its value goes (a ``TrainConfig`` field, an ``Objective`` field, the
network, or the estimator itself) and which estimators have it with which default.
Generated from it:

- the numpydoc Parameters section of every estimator docstring (``parameters_doc``);
- ``_parameter_constraints`` (scikit-learn's validation) and the checks ``fit`` runs first,
  with messages in the keyword's own name (``check_params``);
- the ``aekit train`` flags and their ``--help`` text (``aekit.cli.options``);
- the keyword -> TrainConfig / Objective field mappings (``TRAIN_PARAMS``, ``OBJECTIVE_PARAMS``).

The estimators keep explicit ``__init__`` signatures (scikit-learn introspects them);
tests/test_parameter_table.py checks that their defaults are the table's. Nothing here
reads a docstring.
"""

from __future__ import annotations

import inspect
import math
import os
import textwrap
from dataclasses import dataclass, field, replace
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    make_constraint,
    validate_parameter_constraints,
)

from aekit.errors import ConfigError
from aekit.kinds import KINDS, MODELS, having
from aekit.fitted.density import SAMPLERS
from aekit.losses.objectives import LIKELIHOODS, NOISE_KINDS, RECONSTRUCTIONS, SPARSITY_KINDS
from aekit.models.autoencoder import ARCHITECTURES, MAX_LAYER_WIDTH, OUTPUT_ACTIVATIONS
from aekit.models.conv import DECODER_KINDS
from aekit.models.layers import ACTIVATIONS
from aekit.models.priors import MAX_PSEUDO_INPUTS, PRIORS
from aekit.models.segmentation import MAX_CLASSES
from aekit.models.semisupervised import FEW_LABEL_METHODS
from aekit.training.trainer import ENGINES, OPTIMIZERS, SCHEDULES

# Which kinds have a keyword follows from what each kind declares (aekit.kinds).
ALL = tuple(MODELS)  # every kind, in the order docs list them
DEEP = having("hidden_layers")  # every model with hidden layers
AUTOENCODERS = having("epochs")  # trained by fit(X) for `epochs`
SAMPLING = having("code_density")  # fit a code density for sample()
REGULARISED = having("penalties")  # sparsity, contractive and rate penalties


# --- constraints -----------------------------------------------------------------------
class Choices(StrOptions):
    """StrOptions that remembers the order its strings are documented in."""

    def __init__(self, options):
        self.ordered = tuple(options)
        super().__init__(set(self.ordered))

    def __str__(self):
        return "one of " + ", ".join(repr(o) for o in self.ordered)


class Range(Interval):
    """An Interval that refuses booleans (True is an int to Python, not a size or rate)."""

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)

    def describe(self, value=None) -> str:
        """'an integer >= 1', 'a finite number > 0', 'a number in [0, 1)'; for a value of
        the right type, only the bound it breaks."""
        left, right = self.left, self.right
        lo = ">=" if self.closed in ("left", "both") else ">"
        hi = "<=" if self.closed in ("right", "both") else "<"
        if self.type is Integral:
            if right is None:
                return f"an integer {lo} {left}"
            if isinstance(value, Integral) and not isinstance(value, (bool, np.bool_)):
                below = value < left if lo == ">=" else value <= left
                return f"an integer {lo} {left}" if below else f"an integer {hi} {right}"
            return f"an integer in [{left}, {right}]"
        if right is None or right == math.inf:
            return f"a finite number {lo} {_num(left)}"
        bracket = ("[" if lo == ">=" else "(") + f"{_num(left)}, {_num(right)}" + \
                  ("]" if hi == "<=" else ")")
        return f"a number in {bracket}"


def _num(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


class IntTuple(Options):
    """A tuple (or list) of integers in ``[low, high]``: layer widths, channels, shapes.
    ``lengths`` limits how many; ``shape_text`` names the accepted forms in messages."""

    def __init__(self, *, lengths=None, nonempty=False, low=1, high=None, shape_text=None):
        super().__init__(type=tuple, options=set())
        self.lengths, self.nonempty = lengths, nonempty
        self.low, self.high, self.shape_text = low, high, shape_text

    def problem(self, name: str, value):
        """The message for a value this constraint refuses, or None if it accepts it."""
        if not isinstance(value, (tuple, list)):
            return f"{name} must be {self}, got {value!r}"
        if self.lengths and len(value) not in self.lengths:
            return f"{name} must be {self}, got {value!r}"
        if self.nonempty and not value:
            return f"{name} must be a non-empty tuple of integers, got {value!r}"
        entry = Range(Integral, self.low, self.high, closed="both" if self.high else "left")
        for v in value:
            if not entry.is_satisfied_by(v):
                return f"{name} entries must be {entry.describe(v)}, got {v!r}"
        return None

    def is_satisfied_by(self, val):
        return self.problem("", val) is None

    def __str__(self):
        if self.shape_text:
            return self.shape_text
        return ("a non-empty tuple of integers" if self.nonempty else "a tuple of integers")


def _describe(c, value=None) -> str:
    """A made constraint (``make_constraint``) in words."""
    if isinstance(c, Range):
        return c.describe(value)
    kind = type(c).__name__
    if kind in ("_Booleans", "_VerboseHelper"):
        return "True or False"
    if kind == "_RandomStates":
        return "an integer in [0, 2**32 - 1], a numpy RandomState or None"
    if kind == "_InstancesOf":
        return {"str": "a string"}.get(c.type.__name__, f"a {c.type.__name__}")
    return str(c)


def count(low=1, high=None):
    """An integer >= low (and <= high)."""
    return Range(Integral, low, high, closed="both" if high is not None else "left")


def positive():
    return Range(Real, 0, math.inf, closed="neither")  # finite and > 0


def nonnegative():
    return Range(Real, 0, math.inf, closed="left")  # finite and >= 0


def fraction(closed="left"):
    return Range(Real, 0, 1, closed=closed)


WIDTH = count(1, MAX_LAYER_WIDTH)


# --- the table -------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """One keyword. ``defaults``: model -> default (the models that have it). ``goes_to``:
    ``"train:<TrainConfig field>"``, ``"objective:<Objective field>"``, ``"model"`` (the
    network) or ``"estimator"`` (used by the estimator itself). ``kind``: the value's form
    on the command line (``int``, ``float``, ``bool``, ``ints``, ``str``). ``variants``:
    model -> overrides of ``doc``/``constraints``/``type`` for that model, and ``note``,
    extra text for that model's docstring only."""

    name: str
    kind: str
    constraints: tuple
    doc: str
    defaults: dict
    goes_to: str = "estimator"
    type: str = ""
    variants: dict = field(default_factory=dict)

    def for_model(self, model: str) -> "Param":
        """This keyword as ``model`` has it (its variant applied)."""
        over = dict(self.variants.get(model, {}))
        note = over.pop("note", "")
        p = replace(self, **over, variants={})
        if note:
            p = replace(p, doc=f"{p.doc} {note}")
        return p

    @property
    def type_text(self) -> str:
        """numpydoc type: 'int', "{'adam', 'adamw', 'sgd'}", 'float or None', ..."""
        if self.type:
            return self.type
        cons = [make_constraint(c) for c in self.constraints]
        parts, optional = [], False
        for c in cons:
            if isinstance(c, Choices):
                parts.append("{" + ", ".join(repr(o) for o in c.ordered) + "}")
            elif isinstance(c, Range):
                parts.append("int" if c.type is Integral else "float")
            elif isinstance(c, IntTuple):
                parts.append("tuple of int")
            elif c is None or type(c).__name__ == "_NoneConstraint":
                optional = True
            elif type(c).__name__ in ("_Booleans", "_VerboseHelper"):
                parts.append("bool")
            elif type(c).__name__ == "_InstancesOf":
                parts.append(c.type.__name__)
            elif type(c).__name__ == "_RandomStates":
                return "int, RandomState instance or None"
        return " or ".join(parts + (["None"] if optional else []))

    def message(self, value) -> str:
        """Why ``value`` is refused, in the keyword's own name (one line)."""
        cons = [make_constraint(c) for c in self.constraints]
        none_ok = any(type(c).__name__ == "_NoneConstraint" for c in cons)
        for c in cons:  # a constraint for values of this type explains exactly
            if isinstance(c, IntTuple) and isinstance(value, (tuple, list)):
                return c.problem(self.name, value)
            if isinstance(c, Range) and isinstance(value, c.type) \
                    and not isinstance(value, (bool, np.bool_)):
                wanted = c.describe(value) + (" or None" if none_ok else "")
                return f"{self.name} must be {wanted}, got {value!r}"
        choices = [c for c in cons if isinstance(c, Choices)]
        if choices and len(choices) + none_ok == len(cons):
            listed = [*choices[0].ordered, *([None] if none_ok else [])]
            return f"{self.name} {value!r} is not one of {listed}"
        wanted = [_describe(c) for c in cons]
        return f"{self.name} must be {' or '.join(wanted)}, got {value!r}"

    def to_internal(self, value):
        """The value as the TrainConfig / Objective field wants it (numpy scalars -> int /
        float / bool), once validated."""
        if value is None or isinstance(value, str):  # None, or 'auto' (resolved by fit)
            return value
        if self.kind == "int":
            return int(value)
        if self.kind == "float":
            return float(value)
        if self.kind == "bool":
            return bool(value)
        return value


def _p(name, kind, constraints, doc, defaults, goes_to="estimator", **kw) -> Param:
    return Param(name, kind, tuple(constraints), " ".join(doc.split()), dict(defaults),
                 goes_to, **kw)


def _same(models, value) -> dict:
    return {m: value for m in models}


def _tidy(variants: dict) -> dict:
    return {m: {k: (" ".join(v.split()) if k in ("doc", "note") else v)
                for k, v in over.items()} for m, over in variants.items()}


PARAMS = (
    # --- the network -------------------------------------------------------------------
    _p("image_shape", "ints", [IntTuple(lengths=(2, 3), shape_text="(H, W) or (C, H, W)"), None],
       """(H, W) or (C, H, W) of each image when X is flat (n_samples, C*H*W). X may also be
       an array (n, H, W) or (n, C, H, W), whose shape then gives the image shape. With flat
       X and no image_shape, each row is laid out row-major on the smallest square that
       survives the poolings, zero-padded (a 784-value row becomes 28x28); outputs are
       cropped back to the row's length.""",
       _same(("conv", "vae"), None), "model", type="tuple of int or None",
       variants=_tidy({"vae": {"note": "Used when architecture='conv'."}})),
    _p("channels", "ints", [IntTuple(nonempty=True, high=MAX_LAYER_WIDTH)],
       "Channels of the conv layers; each is followed by a 2x2 max-pool.",
       {"conv": (16, 32, 64), "vae": (32, 64)}, "model",
       variants=_tidy({"vae": {"note": "Used when architecture='conv'."}})),
    _p("architecture", "str", [Choices(ARCHITECTURES)],
       "Dense layers (hidden_layer_sizes) or conv + pooling blocks (channels).",
       {"vae": "dense"}, "model"),
    _p("n_components", "int", [WIDTH, Choices(("auto",))],
       """Size of the code (as in PCA). 'auto': a quarter of the features, at least 2 and
       at most 30 (30 for 28x28 images, the lecture's code; 16 for 8x8 digits; 4 for 13
       wine features): a real bottleneck on any data.""",
       {"linear": "auto", "stacked": "auto", "conv": "auto", "vae": 2, "classifier": "auto"},
       "model", type="int or 'auto'",
       variants=_tidy({
           "conv": {"constraints": (WIDTH, Choices(("auto",)), None),
                    "type": "int, 'auto' or None",
                    "doc": """Size of a dense code after the last feature map. 'auto': a
                    quarter of the input values, at least 2 and at most 30 (30 for 28x28
                    images: a real bottleneck); None keeps the feature map itself as the
                    code (n_components_ = channels[-1] * H' * W', 576 for 28x28)."""},
           "vae": {"constraints": (WIDTH,), "type": "int",
                   "doc": "Latent dimension (size of z)."}})),
    _p("hidden_layer_sizes", "ints", [IntTuple(high=MAX_LAYER_WIDTH)],
       "Encoder widths before the code; the decoder mirrors them.",
       {"stacked": (100,), "vae": (256,), "classifier": None}, "model",
       variants=_tidy({"vae": {"note": "Used when architecture='dense'."},
                       "classifier": {
                           "constraints": (IntTuple(high=MAX_LAYER_WIDTH), None),
                           "type": "tuple of int or None",
                           "doc": """Hidden layer widths. None: the method's own, (100,)
                           for 'pretrain' (the encoder before the code), (1000, 500, 250,
                           250, 250) for 'ladder' (Rasmus et al. 2015), (500,) for each of
                           'm2''s three networks (Kingma et al. 2014)."""}})),
    _p("decoder", "str", [Choices(DECODER_KINDS)],
       """How the decoder undoes each pooling: 'transpose' (stride-2 transposed convs),
       'upsample' (nearest upsampling + conv) or 'unpool' (max-unpooling with the encoder's
       pooling indices + conv).""",
       _same(("conv", "vae"), "transpose"), "model",
       variants=_tidy({"vae": {
           "constraints": (Choices(d for d in DECODER_KINDS if d != "unpool"),),
           "doc": """'transpose' or 'upsample' (no 'unpool': prior samples have no encoder
           pooling indices). Used when architecture='conv'."""},
           "vqvae": {
           "constraints": (Choices(d for d in DECODER_KINDS if d != "unpool"),),
           "doc": """'transpose' or 'upsample' (no 'unpool': index grids drawn from the
           prior have no encoder pooling indices)."""}})),
    _p("activation", "str", [Choices(ACTIVATIONS)], "Activation of the hidden layers.",
       {**_same(DEEP, "relu"), "stacked": "elu"}, "model",
       variants=_tidy({"stacked": {"note": """'elu' by default: on validation splits of
       digits, Fashion-MNIST, breast-cancer and wine it reconstructed better than 'relu'
       on every one (0.55 vs 0.62 x PCA on digits)."""}})),
    _p("code_activation", "str", [Choices(ACTIVATIONS), None],
       "Activation of the code layer; None means the same as activation.",
       {"stacked": "linear", "conv": None, "classifier": None}, "model",
       variants=_tidy({"stacked": {"note": """'linear' by default: a relu code of a few units
       tends to lose units for good (dead units), a linear code, like PCA's, keeps them."""}})),
    _p("output_activation", "str", [Choices(("auto", *OUTPUT_ACTIVATIONS))],
       """Activation of the reconstruction. 'auto' chooses from the training data: 'sigmoid'
       when every value lies in [0, 1] (pixel intensities), else 'linear' (standardised or
       any real-valued data); the choice is output_activation_. 'sigmoid' needs X in
       [0, 1] (fit checks it); 'linear' takes any real values.""",
       _same(("stacked", "conv", "classifier"), "auto"), "model"),
    _p("tied", "bool", ["boolean"],
       """Tie the decoder weights to the encoder's (W_dec = W_enc^T per layer): half the
       weights.""",
       _same(("linear", "stacked"), False), "model",
       variants=_tidy({"linear": {"note": "The tied linear autoencoder is PCA's form."}})),
    _p("codebook_size", "int", [count(2, 65_536)],
       """Vectors in the codebook (K): each cell of the index grid is one of K codes, so a
       row's code is h*w*log2(K) bits.""",
       {"vqvae": 128}, "model"),
    _p("embedding_dim", "int", [count(1, 4096)],
       "Width of each codebook vector (the encoder's output per cell).",
       {"vqvae": 16}, "model"),
    _p("ema_decay", "float", [fraction("left")],
       """Decay of the codebook's moving averages (van den Oord et al. 2017, Appendix A.1);
       codes used less than once per batch, on average, restart at encoder outputs.""",
       {"vqvae": 0.99}, "model"),
    _p("prior_channels", "int", [count(1, 4096)],
       "Channels of the prior's masked convolutions (a PixelCNN over the index grid).",
       {"vqvae": 64}, "model"),
    _p("prior_layers", "int", [count(0, 64)],
       "Residual 3x3 masked-conv blocks of the prior, after its first 7x7 one.",
       {"vqvae": 4}, "model"),
    _p("commitment", "float", [nonnegative()],
       """Weight beta of the commitment term ||z_e - sg(e)||^2, which holds the encoder's
       outputs near their codebook vectors (van den Oord et al. 2017, eq. 3: 0.25).""",
       {"vqvae": 0.25}),
    # --- the objective -----------------------------------------------------------------
    _p("loss", "str", [Choices(RECONSTRUCTIONS)],
       "Reconstruction loss, mean per element ('bce' needs X in [0, 1]).",
       _same(("stacked", "conv", "classifier"), "mse"), "objective:reconstruction",
       variants=_tidy({"classifier": {"note": "Used by the pretraining phase."}})),
    _p("noise", "str", [Choices(NOISE_KINDS), None],
       """Corrupt the inputs while training (denoising autoencoder): Gaussian noise,
       masking to 0, or salt-and-pepper.""",
       _same(("stacked", "conv", "classifier"), None), "objective:noise"),
    _p("noise_level", "float", [nonnegative()],
       """Standard deviation of the Gaussian noise, or the probability that a value is
       corrupted ('mask', 'salt_pepper': below 1).""",
       _same(("stacked", "conv", "classifier"), 0.0), "objective:noise_level"),
    _p("sparsity", "str", [Choices(SPARSITY_KINDS), None],
       """Penalty on the codes: 'l1' (mean absolute code), or 'kl' (KL divergence from
       sparsity_target to each unit's mean activation; suits sigmoid codes).""",
       _same(REGULARISED, None), "objective:sparsity"),
    _p("sparsity_weight", "float", [nonnegative()], "Weight of the sparsity penalty.",
       _same(REGULARISED, 0.0), "objective:sparsity_weight"),
    _p("sparsity_target", "float", [fraction("neither")],
       "Target mean activation of each code unit for sparsity='kl'.",
       _same(REGULARISED, 0.05), "objective:sparsity_target"),
    _p("contractive", "float", [nonnegative()],
       "Weight of the contractive penalty, the squared Frobenius norm of the encoder's "
       "Jacobian.",
       _same(REGULARISED, 0.0), "objective:contractive"),
    _p("rate_weight", "float", [nonnegative()],
       """Rate-aware training for compression (Balle et al. 2017): the decoder sees the
       code plus uniform noise U(-1/2, 1/2), the quantiser's error at step 1, and
       rate_weight times the code's bits per input value (under a Gaussian fitted to each
       code dimension over the batch) is added to the loss. Larger values give fewer bits
       per image and lower quality (see aekit.applications.compress); 0 turns it off.""",
       _same(REGULARISED, 0.0), "objective:rate_weight"),
    _p("beta", "float", [nonnegative()],
       "Weight of the KL term (a beta-VAE when not 1).",
       {"vae": 1.0}, "objective:beta"),
    _p("likelihood", "str", [Choices(("auto", *sorted(LIKELIHOODS)))],
       """Decoder distribution p(x|z): 'bernoulli' (sigmoid output, needs X in [0, 1]) or
       'gaussian' (linear output, fixed standard deviation likelihood_scale). 'auto'
       chooses 'bernoulli' when every training value lies in [0, 1], else 'gaussian'; the
       choice is likelihood_.""",
       {"vae": "auto"}, "objective:likelihood"),
    _p("likelihood_scale", "float", [positive()],
       "Standard deviation of the Gaussian likelihood.",
       {"vae": 0.1}, "objective:likelihood_scale"),
    _p("kl_warmup_epochs", "int", [count(0)],
       "The KL weight ramps up linearly to beta over this many epochs (0: no warm-up).",
       {"vae": 0}, "objective:kl_warmup_epochs"),
    _p("importance_samples", "int", [count(1, 5000)],
       """k: 1 trains on the ELBO; k > 1 on the k-sample importance-weighted bound
       log mean_i p(x, z_i) / q(z_i|x) (IWAE, Burda, Grosse & Salakhutdinov 2016), which is
       tighter and lets the encoder spread its mass; each step decodes k codes per row.
       Needs beta=1 and kl_warmup_epochs=0.""",
       {"vae": 1}, "objective:importance_samples"),
    _p("binarize", "str", [Choices(("dynamic",)), None],
       """'dynamic': train on binary data drawn from the intensities, x ~ Bernoulli(x),
       a new draw for every batch (the standard protocol for likelihoods on image data);
       the log-likelihood aekit evaluate reports is then that of one fixed draw of the
       test rows (seed 0). Needs a Bernoulli likelihood. None trains on the intensities
       as they are.""",
       {"vae": None}, "objective:binarize"),
    _p("tc_weight", "float", [nonnegative()],
       """beta-TCVAE (Chen et al. 2018): the KL term is split into the index-code mutual
       information, the total correlation of the code units and their dimension-wise KL,
       and the total correlation is weighted tc_weight (estimated over each batch by
       minibatch-weighted sampling); above 1 it pushes the units to be independent
       (disentangled). 1 is the ELBO. Needs beta=1 and importance_samples=1.""",
       {"vae": 1.0}, "objective:tc_weight"),
    _p("prior", "str", [Choices(PRIORS)],
       """The prior p(z): 'standard' is N(0, I); 'vamp' is the VampPrior (Tomczak &
       Welling 2018), the mixture of the encoder's posteriors at n_pseudo_inputs learned
       pseudo-inputs, trained with the model (the ELBO's KL term is then estimated at its
       sample). It is part of the fitted model: sample, score_samples and the
       importance-sampled likelihood use it.""",
       {"vae": "standard"}),
    _p("n_pseudo_inputs", "int", [count(1, MAX_PSEUDO_INPUTS)],
       """K, the VampPrior's pseudo-inputs (prior='vamp'; 500 in the paper). Each is a
       learned row in the data's space (in [0, 1] for a Bernoulli likelihood), and each
       training step encodes all K.""",
       {"vae": 500}),
    # --- training schedule -------------------------------------------------------------
    _p("pretraining", "str", [Choices(("greedy",)), None],
       """'greedy': greedy layer-wise pretraining, one shallow autoencoder per layer, before
       the whole stack is fine-tuned for epochs.""",
       {"stacked": None}),
    _p("pretrain_epochs", "int", [count(0)],
       "Epochs of autoencoder pretraining.",
       {"stacked": None, "classifier": "auto"},
       variants=_tidy({
           "stacked": {"constraints": (count(1), None),
                       "doc": """Epochs per layer of greedy pretraining; None means the
                       same as epochs."""},
           "classifier": {"constraints": (count(0), Choices(("auto",))),
                          "type": "int or 'auto'",
                          "doc": """Autoencoder epochs over all rows of X, labelled or not
                          (0: no pretraining, the network learns from the labels alone).
                          'auto': 20, or on small data as many as make 2000 optimizer steps
                          (at most 1000)."""}
       })),
    _p("solver", "str", [Choices(("auto", "svd", "gradient"))],
       """How fit finds the weights. 'svd': the exact MSE minimum from the rows'
       covariance (Eckart & Young; one pass over X, the codes are PCA's scores); it has no
       epochs, so it refuses an explicit epochs, weight_decay, validation_fraction and
       early_stopping, and partial_fit always takes gradient steps. 'gradient': epochs of
       the optimizer, as the other autoencoders train. 'auto': 'svd' where it applies (and
       X has at most 4096 features), else 'gradient'; the choice is solver_.""",
       {"linear": "auto"}),
    _p("epochs", "int", [count(0), Choices(("auto",))],
       """Passes over the data. 'auto': 20, or on small data as many as make 2000
       optimizer steps (at most 1000): an epoch of 100 rows is one step, far too few to
       train on.""",
       _same(AUTOENCODERS, "auto"), type="int or 'auto'",
       variants=_tidy({"linear": {"doc": """Passes over the data (solver 'gradient').
       'auto': 50, or on small data as many as make 2000 optimizer steps (at most 1000)."""}})),
    _p("head_epochs", "int", [count(0), Choices(("auto",))],
       """Epochs training the head alone (encoder frozen). 'auto': 30, or as many as make
       2000 steps (at most 500).""",
       {"classifier": "auto"}, type="int or 'auto'"),
    _p("finetune_epochs", "int", [count(0), Choices(("auto",))],
       """Epochs training encoder and head together (0 keeps the pretrained encoder).
       'auto': 30, or as many as make 2000 steps (at most 500).""",
       {"classifier": "auto"}, type="int or 'auto'"),
    _p("prior_epochs", "int", [count(0), Choices(("auto",))],
       """Epochs training the prior over the index grids, after the autoencoder. 'auto':
       10, or as many as make 250 steps (at most 1000; a longer prior overfits small data).""",
       {"vqvae": "auto"}, type="int or 'auto'"),
    # --- optimisation ------------------------------------------------------------------
    _p("batch_size", "int", [count(1)], "Rows per training step.",
       {"linear": 256, "stacked": 128, "conv": 256, "vae": 256, "classifier": None},
       "train:batch_size",
       variants=_tidy({"classifier": {
           "constraints": (count(1), None), "type": "int or None",
           "doc": """Rows per step of the autoencoder phase (method 'pretrain') or of the
           joint phase ('ladder', 'm2': each step also takes as many labelled rows).
           None: the method's own, 256 for 'pretrain', 100 for 'ladder' and 'm2' (the
           papers' batches)."""}})),
    _p("supervised_batch_size", "int", [count(1)],
       "Rows per step of both supervised phases.", {"classifier": 32}),
    _p("optimizer", "str", [Choices(OPTIMIZERS)], "The optimizer.",
       _same(ALL, "adam"), "train:optimizer"),
    _p("learning_rate", "float", [positive()], "Step size of the optimizer.",
       {"linear": 1e-2, "stacked": 5e-3, "conv": 1e-3, "vae": 1e-3, "classifier": 1e-3},
       "train:lr",
       variants=_tidy({
           "linear": {"note": """Larger than the deep estimators' default: the loss surface
                      of a linear autoencoder is benign."""},
           "stacked": {"note": """The defaults (batch 128, learning rate 5e-3, one warm-up
                       epoch, cosine decay) reach the test MSE of the lecture's recipe
                       (batch 32, learning rate 1e-3, 20 epochs) on Fashion-MNIST in about
                       half the epochs, each epoch several times faster."""},
           "classifier": {"note": "Used by the autoencoder phase and the head phase."}})),
    _p("finetune_learning_rate", "float", [positive(), None],
       """Step size of the fine-tuning phase; None means learning_rate / 10 (small steps
       keep the pretrained features).""",
       {"classifier": None}),
    _p("weight_decay", "float", [nonnegative()], "L2 weight decay of the optimizer.",
       {**_same(ALL, 0.0), "stacked": "auto", "vae": "auto"}, "train:weight_decay",
       variants=_tidy({
           "classifier": {"note": "Used by every phase."},
           "stacked": {"constraints": (nonnegative(), Choices(("auto",))),
                       "type": "float or 'auto'",
                       "doc": """L2 weight decay of the optimizer. 'auto': 0.5 x the mean
                       variance of the features / the number of training rows (a Gaussian
                       prior on the weights whose pull fades as rows accumulate, in the
                       data's units); the choice is weight_decay_. It stops a 100-row table
                       from being memorised and barely touches 10,000 images."""},
           "vae": {"constraints": (nonnegative(), Choices(("auto",))),
                   "type": "float or 'auto'",
                   "doc": """L2 weight decay of the optimizer. 'auto': with a Gaussian
                   likelihood, 3 x StackedAutoencoder's prior (0.5 x the mean feature
                   variance / the training rows) in the ELBO's units (x n_features /
                   (2 likelihood_scale^2) nats per unit of MSE); with a Bernoulli one, 0.
                   On validation splits of two standardised tables it took the 2-d VAE
                   from 0.98x / 1.06x PCA(2)'s error to 0.92x / 0.98x (the fit had
                   memorised ~100-400 rows); on digits and Fashion-MNIST any decay raised
                   the error. The choice is weight_decay_."""}})),
    _p("lr_schedule", "str", [Choices(SCHEDULES), None],
       """'cosine' decays the learning rate to 0 over epochs; 'plateau' halves it when the
       loss stops improving; None keeps it constant.""",
       {"linear": "cosine", "stacked": "cosine", "conv": None, "vae": None},
       "train:lr_schedule"),
    _p("warmup_epochs", "float", [nonnegative()],
       "Linear learning-rate warm-up over this many epochs (updated every step).",
       {"linear": 0.0, "stacked": 1.0, "conv": 0.0, "vae": 0.0}, "train:warmup_epochs"),
    _p("validation_fraction", "float", [fraction("left")],
       "Fraction of X held out to monitor (and early-stop on) the validation loss.",
       _same(ALL, 0.0), "train:validation_fraction",
       variants=_tidy({"classifier": {"note": """Every phase: of all rows while
       pretraining, of the labelled rows (cross-entropy) in the supervised phases."""}})),
    _p("early_stopping", "int", [count(1), None],
       """Stop when the (validation) loss has not improved for this many epochs, keeping
       the best weights; None trains every epoch.""",
       _same(ALL, None), "train:early_stopping",
       variants=_tidy({"classifier": {"note": "Used by every phase."}})),
    _p("grad_clip", "float", [positive(), None],
       "Clip the global gradient norm to this value; None does not clip.",
       _same(ALL, None), "train:grad_clip",
       variants=_tidy({"classifier": {"note": "Used by every phase."}})),
    _p("engine", "str", [Choices(ENGINES)],
       """How gradients are computed: 'auto' uses closed-form gradients for plain dense
       autoencoders where they apply (same maths, faster) and autograd otherwise;
       'autograd' always uses autograd.""",
       _same(ALL, "auto"), "train:engine"),
    # --- what fit keeps ----------------------------------------------------------------
    _p("standardize_codes", "bool", ["boolean"],
       """Standardise the codes before the head, with means and standard deviations over
       all rows of X after pretraining (kept fixed).""",
       {"classifier": True}),
    _p("pseudo_labels", "str", [Choices(("spread",)), None],
       """What the unlabelled rows (y == -1) give the supervised phases. 'spread': each gets
       the most probable label under label spreading (Zhou et al. 2004) over the
       10-nearest-neighbour graph of the input rows (class mass normalised) times a
       logistic regression on the labelled rows, and the head and fine-tuning train on
       every row (batch_size rows per step); None: they train on the labelled rows only,
       and the unlabelled rows serve pretraining alone.""",
       {"classifier": "spread"}),
    _p("method", "str", [Choices(("auto", *FEW_LABEL_METHODS))],
       """How the unlabelled rows help. 'ladder': a ladder network (Rasmus et al. 2015),
       a denoising autoencoder with a lateral connection at every layer and a denoising
       cost at each, trained on the labelled and unlabelled rows together; its top layer
       is the classifier. 'm2': the semi-supervised VAE M2 (Kingma et al. 2014), a model
       of x given its class that also generates by class (sample(n, y=...)); an unlabelled
       row's bound sums over the classes. 'pretrain': autoencoder pretraining on every
       row, then a softmax head and fine-tuning (with pseudo_labels). 'auto': the ladder on
       1000 training rows or more, else M2 (the choice is method_): on validation splits
       of the training rows the ladder was the most accurate on digits (50 labels) and
       Fashion-MNIST (100), M2 on the small standardised tables breast-cancer and wine,
       where the ladder trailed a logistic regression
       (benchmarks/results/few_labels_validation.md).""",
       {"classifier": "auto"}),
    _p("joint_epochs", "int", [count(0), Choices(("auto",))],
       """Epochs of joint training on labelled and unlabelled rows (methods 'ladder' and
       'm2'); an epoch is one pass over every row, each batch of batch_size rows paired
       with as many labelled ones. 'auto': 10, or on small data as many as make 1000
       steps (at most 1000).""",
       {"classifier": "auto"}, type="int or 'auto'"),
    _p("ladder_noise", "float", [nonnegative()],
       """Standard deviation of the Gaussian noise the ladder's corrupted encoder adds to
       the input and to every layer's normalised pre-activations (method='ladder'; 0.3 in
       Rasmus et al. 2015).""",
       {"classifier": 0.3}),
    _p("labelled_weight", "float", [positive(), Choices(("auto",))],
       """M2's alpha (method='m2'): the weight of the labelled rows' classification loss
       against their bound. 'auto': 0.1 x the number of rows (Kingma et al. 2014).""",
       {"classifier": "auto"}, type="float or 'auto'"),
    _p("sampler", "str", [Choices(SAMPLERS)],
       """Density fitted on the training codes (of at most 5000 evenly spaced rows), from
       which sample() draws new codes: a Gaussian mixture, one Gaussian, or a box uniform
       over the codes' range.""",
       _same(SAMPLING, "gmm")),
    _p("sampler_components", "int", [count(1)], "Mixture components of sampler='gmm'.",
       _same(SAMPLING, 10)),
    _p("n_mc_samples", "int", [count(1)],
       "Monte Carlo draws of z per row in score_samples (the ELBO).", {"vae": 8}),
    # --- running -----------------------------------------------------------------------
    _p("device", "str", [str], "Torch device to train on ('cpu', 'cuda', 'cuda:1', ...).",
       _same(ALL, "cpu"), "train:device"),
    _p("n_threads", "int", [count(1, 1024), None],
       """CPU threads for fit and for every later call (transform, predict, ...). None
       lets aekit choose from the work, never the machine's load: one thread for small
       steps, else one slice of each batch per core where the loss allows
       (aekit.training.threads), so a seed gives the same weights whatever else the
       machine runs. With sliced batches the count changes only the speed, never the
       weights. $AEKIT_NUM_THREADS sets it for every estimator.""",
       _same(ALL, None), "train:threads"),
    _p("random_state", "int", ["random_state"],
       """Seeds everything random in fit: initial weights, shuffling, noise, sampling and
       the sampler fit.""",
       _same(ALL, None)),
    _p("verbose", "bool", ["verbose"], "Show a progress bar while training.",
       _same(ALL, False), "train:progress"),
    _p("log_dir", "str", [str, os.PathLike, None],
       """Folder for TensorBoard logs (tensorboard --logdir DIR): each loss term, the
       learning rate, the validation terms and a grid of reconstructions per epoch; needs
       pip install 'aekit[tensorboard]'. Training gives the same result with or without
       it. None writes no log.""",
       _same(("linear", "stacked", "conv", "vae", "classifier"), None), "train:log_dir",
       type="str, path or None",
       variants=_tidy({"classifier": {"note": """The supervised phases log to the
       sub-folders head and finetune."""}, "stacked": {"note": """Greedy pretraining logs
       each phase to a sub-folder (layer-1, ..., fine-tune)."""}})),
)

# The segmenter (ConvSegmenter, SegNet) shares these keywords with the models above, with
# its own defaults (and doc notes), and has two of its own: n_classes and class_weight.
SEGMENTER_DEFAULTS = {
    "image_shape": None, "channels": (16, 32, 64), "decoder": "unpool", "activation": "relu",
    "epochs": 8, "batch_size": 16, "optimizer": "adam", "learning_rate": 3e-3,
    "weight_decay": 0.0, "lr_schedule": "cosine", "warmup_epochs": 0.0,
    "validation_fraction": 0.0, "early_stopping": None, "grad_clip": None, "engine": "auto",
    "device": "cpu", "n_threads": None, "random_state": None, "verbose": False,
}
SEGMENTER_NOTES = _tidy({
    "decoder": {"note": "The segmenter's 'unpool' is SegNet's decoder."},
    "batch_size": {"note": "The segmenter counts images."},
    "validation_fraction": {"note": "The segmenter holds out images (per-pixel "
                            "cross-entropy)."},
})
def _with_segmenter(p: Param) -> Param:
    """``p`` with the segmenter's default when it has the keyword, else without the
    segmenter (``_same(ALL, ...)`` above includes every model, the segmenter too)."""
    defaults = {m: v for m, v in p.defaults.items() if m != "segmenter"}
    if p.name not in SEGMENTER_DEFAULTS:
        return replace(p, defaults=defaults)
    return replace(p, defaults={**defaults, "segmenter": SEGMENTER_DEFAULTS[p.name]},
                   variants={**p.variants, **({"segmenter": SEGMENTER_NOTES[p.name]}
                                              if p.name in SEGMENTER_NOTES else {})})


PARAMS = tuple(_with_segmenter(p) for p in PARAMS) + (
    _p("n_classes", "int", [count(2, MAX_CLASSES), None],
       """Classes of the masks, background included (labels 0 .. n_classes - 1); None
       infers it from the training masks (largest label + 1).""",
       {"segmenter": None}, "model"),
    _p("class_weight", "str", [Choices(("median_frequency",)), None],
       """Weight each class's pixels in the cross-entropy: 'median_frequency' is SegNet's
       median-frequency balancing, weight_c = median_freq / freq_c, where freq_c is the
       pixels of class c over the pixels of the training images holding c (so a dominant
       background weighs less); None weighs every pixel alike.""",
       {"segmenter": None}),
)


def inherit(params, kinds=KINDS) -> tuple:
    """``params`` with a column for each kind declared ``like`` another: the other kind's
    default (and doc variant), or the kind's own ``defaults`` entry. A declared default
    for a keyword the kind does not get is a ConfigError (a slip, not a silent no-op)."""
    out = []
    for p in params:
        defaults, variants = dict(p.defaults), dict(p.variants)
        for kind in kinds:  # the like-kind's column wins over entries for every kind
            if kind.like is None or kind.like not in defaults:
                continue
            if p.name in kind.without:  # a keyword of the like-kind this kind lacks
                defaults.pop(kind.name, None)
                continue
            defaults[kind.name] = kind.defaults.get(p.name, defaults[kind.like])
            if kind.name in variants:  # the entry's own text for this kind
                continue
            if kind.like in variants:
                variants[kind.name] = variants[kind.like]
        order = [*MODELS, *(k.name for k in kinds if k.name not in MODELS)]
        defaults = {m: defaults[m] for m in order if m in defaults}  # the docs' kind order
        out.append(replace(p, defaults=defaults, variants=variants))
    names = {p.name: p for p in out}
    for kind in kinds:
        unknown = set(kind.without) - {p.name for p in out if kind.like in p.defaults}
        if unknown:
            raise ConfigError(f"kind {kind.name!r} goes without {sorted(unknown)}, which "
                              f"{kind.like!r} does not have")
        for name in kind.defaults:
            if name not in names or kind.name not in names[name].defaults:
                raise ConfigError(f"kind {kind.name!r} declares a default for {name!r}, "
                                  f"which {kind.like!r} does not have")
    return tuple(out)


PARAMS = inherit(PARAMS)
TABLE = {p.name: p for p in PARAMS}
# Keyword -> TrainConfig / Objective field: one mapping serves fit, partial_fit and saving.
TRAIN_PARAMS = {p.name: p.goes_to.split(":", 1)[1] for p in PARAMS
                if p.goes_to.startswith("train:")}
OBJECTIVE_PARAMS = {p.name: p.goes_to.split(":", 1)[1] for p in PARAMS
                    if p.goes_to.startswith("objective:")}
TUPLE_PARAMS = tuple(p.name for p in PARAMS if p.kind == "ints")  # JSON lists -> tuples


# --- per estimator ---------------------------------------------------------------------
def model_of(cls) -> str:
    """The table's name for an estimator class (or the aekit class it derives from)."""
    names = {v: k for k, v in MODELS.items()}
    for klass in cls.__mro__:
        if klass.__name__ in names:
            return names[klass.__name__]
    raise KeyError(f"{cls.__name__} is not an aekit estimator")


def keywords(cls) -> list:
    """The keyword arguments of ``cls.__init__``, in signature order."""
    sig = inspect.signature(cls.__init__)
    return [n for n, p in sig.parameters.items()
            if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def params_of(cls) -> dict:
    """keyword -> Param as ``cls`` has it, in signature order (keywords the table does
    not know, e.g. a user subclass's own, are left out)."""
    model = model_of(cls)
    return {name: TABLE[name].for_model(model) for name in keywords(cls)
            if name in TABLE and model in TABLE[name].defaults}


def constraints(cls) -> dict:
    """``_parameter_constraints`` of ``cls``: keyword -> list of scikit-learn constraints."""
    return {name: list(p.constraints) for name, p in params_of(cls).items()}


def _fmt_default(value) -> str:
    return repr(value)


def parameters_doc(cls) -> str:
    """The numpydoc Parameters section of ``cls`` (4-space indented, signature order)."""
    model = model_of(cls)
    lines = ["    Parameters", "    ----------"]
    for name, p in params_of(cls).items():
        lines.append(f"    {name} : {p.type_text}, default={_fmt_default(p.defaults[model])}")
        lines.extend(textwrap.wrap(p.doc, width=88, initial_indent=" " * 8,
                                   subsequent_indent=" " * 8, break_on_hyphens=False))
    return "\n".join(lines) + "\n"


def documented(summary_end: str = ""):
    """Class decorator: the docstring gets the generated Parameters section (after the
    summary, before ``summary_end``: Attributes etc.) and ``_parameter_constraints``."""

    def apply(cls):
        head, _, body = inspect.cleandoc(cls.__doc__ or "").partition("\n")
        doc = (head + "\n" + textwrap.indent(body, "    ")).rstrip() + "\n\n"
        doc += parameters_doc(cls)
        if summary_end:
            doc += "\n" + textwrap.indent(inspect.cleandoc(summary_end), "    ") + "\n"
        cls.__doc__ = doc
        cls._parameter_constraints = constraints(cls)
        return cls

    return apply


def check_params(est) -> None:
    """Validate every keyword of ``est`` against its table entry with scikit-learn's
    validation; a refused value raises :class:`~aekit.ConfigError` naming the keyword."""
    cls = type(est)
    for name, p in params_of(cls).items():
        value = getattr(est, name)
        if isinstance(value, (bool, np.bool_)) and p.kind != "bool":
            # True is an int to Python (and to scikit-learn's random_state check), never a
            # seed, size or rate to a user
            raise ConfigError(p.message(value))
        try:
            validate_parameter_constraints({name: list(p.constraints)}, {name: value},
                                           caller_name=cls.__name__)
        except InvalidParameterError:
            raise ConfigError(p.message(value)) from None


def internal(est, mapping: dict) -> dict:
    """{TrainConfig/Objective field: value} for the keywords of ``mapping`` ``est`` has,
    numpy scalars made plain Python (the internal dataclasses check exact types)."""
    out = {}
    for name, fld in mapping.items():
        if hasattr(est, name):
            out[fld] = TABLE[name].to_internal(getattr(est, name))
    return out


# --- devices ---------------------------------------------------------------------------
DEVICE_TYPES = ("cpu", "cuda", "mps")  # what training runs on


def device_problem(device, *, available: bool = False) -> str | None:
    """Why ``device`` cannot be used, in one line, or None.

    Always checked: it names a torch device of a type aekit trains on ('cpu', 'cuda',
    'cuda:N', 'mps'). With ``available``: this torch build and machine also have it (a
    CPU-only torch has no CUDA). The estimators check the first only, so a model trained
    on a GPU still loads where there is none; ``aekit train`` checks both before it
    loads any data."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        return f"device {device!r} is not a torch device (e.g. 'cpu', 'cuda', 'cuda:1')"
    if dev.type not in DEVICE_TYPES:
        return (f"device {device!r}: aekit trains on {', '.join(DEVICE_TYPES)} devices, not "
                f"{dev.type!r}")
    if not available:
        return None
    if dev.type == "cuda":
        if torch.version.cuda is None:
            return (f"device {device!r}: CUDA is not available in this torch build (it is "
                    "built for the CPU only); use device 'cpu'")
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            return (f"device {device!r}: CUDA is not available (this torch build has CUDA "
                    "but sees no GPU); use device 'cpu'")
        if dev.index is not None and dev.index >= n:
            return (f"device {device!r}: this machine has {n} CUDA device(s), cuda:0 to "
                    f"cuda:{n - 1}")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        return f"device {device!r}: MPS (Apple GPU) is not available here; use device 'cpu'"
    return None


# --- the command line ------------------------------------------------------------------
def cli_value_text(p: Param) -> str:
    """What a flag takes, in words ('integer', 'one of: adam, adamw, sgd', ...)."""
    variants = [p.for_model(m) for m in p.defaults]
    cons = [make_constraint(c) for v in variants for c in v.constraints]
    optional = any(type(c).__name__ == "_NoneConstraint" for c in cons)
    choices = []
    for c in cons:
        if isinstance(c, Choices):
            choices += [o for o in c.ordered if o not in choices]
    if p.kind == "bool":
        return ""
    if choices:
        return "one of: " + ", ".join(choices + (["none"] if optional else []))
    word = {"int": "integer", "float": "number", "ints": "integers, comma-separated",
            "str": "text"}[p.kind]
    if p.name == "random_state":
        return "integer seed or none"
    return word + (" or none" if optional else "")


def cli_default_text(value) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) or "()"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else str(value)


def cli_help(p: Param) -> str:
    """``--help`` text of one flag: what it does (model-specific meanings prefixed with
    the model), what it takes, each model's default, and which models have it."""
    text = [p.doc]
    for model in p.defaults:
        own = p.variants.get(model, {}).get("doc")
        if own:
            text.append(f"{model}: {own[0].lower() + own[1:] if own[1:2].islower() else own}")
    shown = {cli_default_text(v) for v in p.defaults.values()}
    if len(shown) == 1:
        default = f"default: {shown.pop()}"
    else:
        default = "defaults: " + ", ".join(f"{m}={cli_default_text(v)}"
                                           for m, v in p.defaults.items())
    value = cli_value_text(p)
    tail = f"({value}; {default})" if value else f"({default})"
    only = "" if len(p.defaults) == len(MODELS) else f" [{', '.join(p.defaults)}]"
    return f"{' '.join(text)} {tail}{only}"
