"""Autoencoders trained on labelled and unlabelled rows together (few labels):

- :class:`LadderNetwork`, the ladder network (Rasmus, Valpola, Honkala, Berglund & Raiko
  2015, "Semi-supervised learning with ladder networks"): a denoising autoencoder whose
  decoder gets a lateral connection from every encoder layer, with a denoising cost at
  every layer; the encoder's top layer is the classifier. The Gamma-model is the same
  network with a cost at the top layer only (``denoising_costs``).
- :class:`M2Network`, the semi-supervised VAE "M2" (Kingma, Rezende, Mohamed & Welling
  2014, "Semi-supervised learning with deep generative models"): q(y|x), q(z|x,y) and
  p(x|y,z); an unlabelled row's bound sums over the classes weighted by q(y|x). It is a
  model of x given its class, so it generates by class.

Their losses live with the objectives (:mod:`aekit.losses.semisupervised`): batches are
``(x, x_labelled, y_labelled)`` (:class:`aekit.io.rows.SemiSupervisedSource`), ``x`` rows
of all the data, used as unlabelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from aekit.errors import ConfigError
from aekit.models.autoencoder import (
    NamedConfig, check_field_types, check_parameters,
)
from aekit.models.layers import activation

# AutoencoderClassifier's methods (its ``method``, besides 'auto'): the two networks here,
# and autoencoder pretraining with a head (aekit.estimators.classifier).
FEW_LABEL_METHODS = ("ladder", "m2", "pretrain")


def _check_common(config, fail) -> None:
    if config.n_features < 1:
        fail(f"n_features must be >= 1, got {config.n_features}")
    if not 2 <= config.n_classes <= 10_000:
        fail(f"n_classes must be in 2..10000, got {config.n_classes}")
    if not config.hidden or any(h < 1 for h in config.hidden):
        fail(f"hidden must be one or more sizes >= 1, got {list(config.hidden)}")
    if len(config.hidden) > 100:
        fail(f"at most 100 hidden layers, got {len(config.hidden)}")


# --- the ladder network ---------------------------------------------------------------------
# Rasmus et al. (2015), MNIST: 784-1000-500-250-250-250-10, noise 0.3, denoising costs
# 1000 (input), 10 (first layer), 0.1 above.
def default_denoising_costs(n_layers: int) -> tuple:
    """One weight per layer (the input, each hidden layer, the class layer)."""
    return (1000.0, 10.0) + (0.1,) * (n_layers - 1)


@dataclass
class LadderConfig(NamedConfig):
    """Everything needed to rebuild a ladder network; JSON-serialisable."""

    n_features: int
    n_classes: int
    hidden: tuple[int, ...] = (1000, 500, 250, 250, 250)
    activation: str = "relu"
    noise_std: float = 0.3
    # the weight of each layer's denoising cost, input first (len(hidden) + 2)
    denoising_costs: tuple[float, ...] | None = None
    # rows that are images (C, H, W) may be shifted by up to ``shift`` pixels in training
    image_shape: tuple[int, int, int] | None = None
    shift: int = 0
    extra: dict = field(default_factory=dict)

    name = "ladder"

    def __post_init__(self):
        check_field_types(self, integers=("n_features", "n_classes", "shift"),
                          sizes=("hidden",), optional_sizes=("image_shape",),
                          strings=("activation",))
        if self.denoising_costs is None:
            self.denoising_costs = default_denoising_costs(len(self.hidden) + 1)
        self.denoising_costs = tuple(float(c) for c in self.denoising_costs)
        self.validate()

    def validate(self) -> None:
        def fail(msg):
            raise ConfigError(f"model config: {msg}")

        _check_common(self, fail)
        activation(self.activation)  # a known name
        if not (math.isfinite(self.noise_std) and self.noise_std >= 0):
            fail(f"noise_std must be a finite number >= 0, got {self.noise_std!r}")
        if len(self.denoising_costs) != len(self.hidden) + 2 or not all(
                math.isfinite(c) and c >= 0 for c in self.denoising_costs):
            fail(f"denoising_costs must be {len(self.hidden) + 2} finite numbers >= 0 (the "
                 f"input, each hidden layer, the class layer), got {list(self.denoising_costs)}")
        if self.shift < 0 or (self.shift > 0 and self.image_shape is None):
            fail(f"shift must be >= 0, and needs image_shape, got {self.shift!r}")
        if self.image_shape is not None and (len(self.image_shape) != 3 or math.prod(
                self.image_shape) != self.n_features):
            fail(f"image_shape {list(self.image_shape)} does not hold {self.n_features} values")
        check_parameters(self, fail)

    @property
    def sizes(self) -> tuple:
        return (self.n_features, *self.hidden, self.n_classes)

    def module_class(self) -> type:
        return LadderNetwork

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["denoising_costs"] = list(self.denoising_costs)
        return d


class Combinator(nn.Module):
    """The ladder's "vanilla" combinator g(z_noisy, u) (Rasmus et al. 2015, eq. 2, from
    Valpola 2015): the denoised estimate is (z - mu(u)) * v(u) + mu(u), each of mu and v a
    per-unit sigmoid-plus-linear function of the top-down signal u (ten vectors a1..a10)."""

    def __init__(self, size: int):
        super().__init__()
        init = (0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)  # the paper's code
        self.a = nn.Parameter(torch.tensor(init).repeat(size, 1).T.contiguous())  # (10, n)

    def forward(self, z: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        a = self.a
        mu = a[0] * torch.sigmoid(a[1] * u + a[2]) + a[3] * u + a[4]
        v = a[5] * torch.sigmoid(a[6] * u + a[7]) + a[8] * u + a[9]
        return (z - mu) * v + mu


def random_shift(x: torch.Tensor, image_shape, max_shift: int, generator=None):
    """Rows x (B, C*H*W) as images shifted by a whole number of pixels in [-max_shift,
    max_shift] on each axis (one draw per row), the uncovered border zero: the standard
    translation augmentation of small images."""
    C, H, W = image_shape
    s = int(max_shift)
    B = len(x)
    padded = F.pad(x.reshape(B, C, H, W), (s, s, s, s)).reshape(B, C, -1)
    d = torch.randint(0, 2 * s + 1, (2, B, 1), generator=generator, device=x.device)
    rows = torch.arange(H, device=x.device).repeat_interleave(W)  # (H*W,)
    cols = torch.arange(W, device=x.device).repeat(H)
    index = (rows + d[0]) * (W + 2 * s) + cols + d[1]  # (B, H*W)
    out = padded.gather(2, index.unsqueeze(1).expand(B, C, H * W))
    return out.reshape(B, C * H * W)


def batch_normalise(z: torch.Tensor, eps: float = 1e-10):
    """Batch normalisation without parameters: (z - mean) / std over the rows, with the
    mean and std (each (n,))."""
    mean = z.mean(dim=0)
    std = (z.var(dim=0, unbiased=False) + eps).sqrt()
    return (z - mean) / std, mean, std


class LadderNetwork(nn.Module):
    """The ladder network (see the module's docstring). Inference (``forward``,
    :meth:`classify`, :meth:`encode`) runs the clean encoder with the stored statistics
    (running means in training; the population's after :meth:`set_population_statistics`);
    its loss (:func:`aekit.losses.ladder_terms`) runs a corrupted and a clean encoder and
    the decoder."""

    variational = False
    generative = False  # it classifies; it does not model x given its class
    MOMENTUM = 0.01  # running statistics: a mean over about the last 100 batches

    def __init__(self, config: LadderConfig):
        super().__init__()
        self.config = config
        sizes = config.sizes
        self.act = activation(config.activation)
        L = len(sizes) - 1
        self.weights = nn.ModuleList(nn.Linear(sizes[i], sizes[i + 1], bias=False)
                                     for i in range(L))
        # the decoder's top-down maps V_l (layer l -> l-1) and combinators (every layer)
        self.down = nn.ModuleList(nn.Linear(sizes[i + 1], sizes[i], bias=False)
                                  for i in range(L))
        self.combinators = nn.ModuleList(Combinator(s) for s in sizes)
        self.beta = nn.ParameterList(nn.Parameter(torch.zeros(s)) for s in sizes[1:])
        self.gamma = nn.Parameter(torch.ones(sizes[-1]))  # the class layer's scale
        for i, s in enumerate(sizes[1:]):
            self.register_buffer(f"running_mean{i}", torch.zeros(s))
            self.register_buffer(f"running_var{i}", torch.ones(s))
        for lin in (*self.weights, *self.down):  # Glorot-like, as the paper's code
            if lin.weight.device.type != "meta":
                nn.init.normal_(lin.weight, std=1.0 / math.sqrt(lin.in_features))

    @property
    def code_size(self) -> int:
        return self.config.hidden[-1]

    normalise = staticmethod(batch_normalise)  # for the decoder's top-down signals

    def augment(self, x, generator=None):
        """Training rows shifted by up to ``config.shift`` pixels (x itself for 0)."""
        c = self.config
        return random_shift(x, c.image_shape, c.shift, generator) if c.shift else x

    def _running(self, i):
        return getattr(self, f"running_mean{i}"), getattr(self, f"running_var{i}")

    def _clean_layer(self, i: int, h):
        """Hidden layer i of the clean encoder with the stored statistics."""
        rm, rv = self._running(i)
        return self.act((self.weights[i](h) - rm) / (rv + 1e-10).sqrt() + self.beta[i])

    def _encoder(self, x, noise: float = 0.0, generator=None, batch_stats: bool = True,
                 update: bool = False):
        """Normalised pre-activations z (input first), the class layer's output, the batch
        means and stds. ``batch_stats``: normalise with this batch's statistics (training),
        else the running ones; ``update``: fold this batch's into the running ones."""
        def noisy(t):
            if noise == 0:
                return t
            return t + noise * torch.randn(t.shape, generator=generator, device=t.device,
                                           dtype=t.dtype)

        h = noisy(x)
        zs, means, stds = [h], [None], [None]
        L = len(self.weights)
        for i, lin in enumerate(self.weights):
            pre = lin(h)
            if batch_stats:
                z, mean, std = batch_normalise(pre)
                if update:
                    with torch.no_grad():
                        rm, rv = self._running(i)
                        rm.lerp_(mean, self.MOMENTUM)
                        rv.lerp_(std * std, self.MOMENTUM)
            else:
                rm, rv = self._running(i)
                mean, std = rm, (rv + 1e-10).sqrt()
                z = (pre - mean) / std
            z = noisy(z)
            zs.append(z)
            means.append(mean)
            stds.append(std)
            if i == L - 1:
                h = self.gamma * (z + self.beta[i])  # the class logits
            else:
                h = self.act(z + self.beta[i])
        return zs, h, means, stds

    @torch.no_grad()
    def set_population_statistics(self, X: torch.Tensor, chunk: int = 4096) -> None:
        """Replace the running statistics by each layer's mean and variance over every row
        of X (n, D), as batch normalisation's inference step prescribes (Ioffe & Szegedy
        2015, Algorithm 2): layer by layer, each with the layers below already normalised
        by theirs. The running means only approximate them, and badly after few steps."""
        was = self.training
        self.eval()
        for i, lin in enumerate(self.weights):
            total = sq = None
            for start in range(0, len(X), chunk):
                h = X[start:start + chunk]
                for j in range(i):  # the layers below, with their final statistics
                    h = self._clean_layer(j, h)
                pre = lin(h).double()
                total = pre.sum(0) if total is None else total + pre.sum(0)
                sq = (pre * pre).sum(0) if sq is None else sq + (pre * pre).sum(0)
            mean = total / len(X)
            rm, rv = self._running(i)
            rm.copy_(mean)
            rv.copy_((sq / len(X) - mean * mean).clamp_min(0))
        self.train(was)

    def hidden_codes(self, x):
        """The last hidden layer's activations (clean, running statistics)."""
        h = x
        for i in range(len(self.weights) - 1):
            h = self._clean_layer(i, h)
        return h

    def encode(self, x):
        return self.hidden_codes(x)

    def forward(self, x):  # the class logits (B, n_classes)
        return self._encoder(x, batch_stats=False)[1]

    classify = forward


# --- M2 -------------------------------------------------------------------------------------
@dataclass
class M2Config(NamedConfig):
    """Everything needed to rebuild an M2 network; JSON-serialisable. ``hidden``: the
    hidden layers of each of its three networks; ``code_size``: z's dimension;
    ``likelihood``: p(x|y,z), "bernoulli" (rows in [0, 1]) or "gaussian" (unit variance
    per value times ``scale``)."""

    n_features: int
    n_classes: int
    hidden: tuple[int, ...] = (500,)
    code_size: int = 50
    activation: str = "relu"
    likelihood: str = "bernoulli"
    scale: float = 1.0  # a Gaussian likelihood's standard deviation
    extra: dict = field(default_factory=dict)

    name = "m2"
    image_shape = None  # what code reading any network's config sees

    def __post_init__(self):
        check_field_types(self, integers=("n_features", "n_classes", "code_size"),
                          sizes=("hidden",), strings=("activation", "likelihood"))
        self.validate()

    def validate(self) -> None:
        def fail(msg):
            raise ConfigError(f"model config: {msg}")

        _check_common(self, fail)
        activation(self.activation)
        if self.code_size < 1:
            fail(f"code_size must be >= 1, got {self.code_size}")
        if self.likelihood not in ("bernoulli", "gaussian"):
            fail(f"likelihood must be 'bernoulli' or 'gaussian', got {self.likelihood!r}")
        if not (math.isfinite(self.scale) and self.scale > 0):
            fail(f"scale must be a finite number > 0, got {self.scale!r}")
        check_parameters(self, fail)

    def module_class(self) -> type:
        return M2Network


def _mlp(sizes, act) -> nn.Sequential:
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act)
    return nn.Sequential(*layers)


class M2Network(nn.Module):
    """M2 (see the module's docstring): ``classifier`` q(y|x), ``encoder`` q(z|x,y)
    (mean and log-variance), ``decoder`` p(x|y,z); the prior p(z) = N(0, I) and p(y)
    uniform."""

    variational = True
    generative = True

    def __init__(self, config: M2Config):
        super().__init__()
        self.config = config
        act = activation(config.activation)
        D, C, K, H = config.n_features, config.n_classes, config.code_size, config.hidden
        self.classifier = _mlp((D, *H, C), act)
        self.encoder = _mlp((D + C, *H, 2 * K), act)
        self.decoder = _mlp((K + C, *H[::-1], D), act)

    @property
    def code_size(self) -> int:
        return self.config.code_size

    def _one_hot(self, y, like):
        """Class indices y (B,) one-hot, in the dtype of ``like`` (float32, or a float64
        copy's)."""
        return F.one_hot(y, self.config.n_classes).to(like.dtype)

    def forward(self, x):  # the class logits of q(y|x) (B, n_classes)
        return self.classifier(x)

    classify = forward

    def posterior(self, x, y):
        """q(z|x,y)'s mean and log-variance, each (B, K); y: class indices (B,)."""
        stats = self.encoder(torch.cat([x, self._one_hot(y, x)], dim=1))
        return stats.chunk(2, dim=1)

    def encode(self, x):
        """z's posterior mean under the most probable class (B, K)."""
        return self.posterior(x, self.classifier(x).argmax(dim=1))[0]

    def decode_logits(self, z, y):
        """p(x|y,z)'s logits (Bernoulli) or means (Gaussian), (B, D)."""
        return self.decoder(torch.cat([z, self._one_hot(y, z)], dim=1))

    def decode(self, z, y):
        out = self.decode_logits(z, y)
        return torch.sigmoid(out) if self.config.likelihood == "bernoulli" else out


# network name (a saved config's "network") -> its config class
NETWORKS = {"ladder": LadderConfig, "m2": M2Config}
