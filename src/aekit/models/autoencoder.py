"""Autoencoder modules assembled from encoder/decoder parts, and the model config.

Data flows flat: every model takes x of shape (B, n_features) and returns flat outputs, so
the trainer, losses and estimators never care about the architecture. Convolutional models
view x as (B, C, H, W) internally (a free reshape).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field

import torch
from torch import nn

from aekit.errors import ConfigError
from aekit.models.conv import DECODER_KINDS, ConvDecoder, ConvEncoder
from aekit.models.dense import DenseDecoder, DenseEncoder, TiedDenseDecoder
from aekit.models.layers import ACTIVATIONS, activation, linear
from aekit.models.priors import MAX_PSEUDO_INPUTS, PRIORS, build_prior, sample_components

ARCHITECTURES = ("dense", "conv")
OUTPUT_ACTIVATIONS = ("sigmoid", "linear")
# Refuse configs whose weights alone would exceed this many parameters (~4 GB of fp32)
# before anything is allocated: protects `aekit.load` against absurd or hostile configs.
MAX_PARAMETERS = 1_000_000_000
MAX_LAYER_WIDTH = 1_000_000
MAX_DEPTH = 100  # hidden layers (or conv blocks): a file cannot ask for a million modules


def check_field_types(config, integers=(), optional_integers=(), sizes=(),
                      optional_sizes=(), flags=(), strings=(), optional_strings=()) -> None:
    """Check (and normalise) a config's fields by type before any conversion: a config read
    from a file must not be silently rounded (2.5 -> 2) or truthy-cast ("false" -> True).
    ``sizes``: lists of integers (stored as tuples)."""
    def int_list(name, value):
        if hasattr(value, "tolist") and not isinstance(value, (list, tuple)):
            value = value.tolist()  # numpy arrays / tensors of sizes
        values = value if isinstance(value, (list, tuple)) else None
        if values is None or not all(_is_int(v) for v in values):
            raise ConfigError(f"model config: {name} must be a list of integers, "
                              f"got {value!r}")
        return tuple(int(v) for v in values)

    for name in (*sizes, *optional_sizes):
        value = getattr(config, name)
        if not (value is None and name in optional_sizes):
            setattr(config, name, int_list(name, value))
    for name in (*integers, *optional_integers):
        value = getattr(config, name)
        if not (_is_int(value) or (value is None and name in optional_integers)):
            raise ConfigError(f"model config: {name} must be an integer, got {value!r}")
        if value is not None:
            setattr(config, name, int(value))
    for name in flags:
        value = getattr(config, name)
        if not (isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind",
                                                   None) == "b"):
            raise ConfigError(f"model config: {name} must be true or false, got {value!r}")
        setattr(config, name, bool(value))
    for name in strings:
        if not isinstance(getattr(config, name), str):
            raise ConfigError(f"model config: {name} must be a string, "
                              f"got {getattr(config, name)!r}")
    for name in optional_strings:
        if not isinstance(getattr(config, name), (str, type(None))):
            raise ConfigError(f"model config: {name} must be a string or null, "
                              f"got {getattr(config, name)!r}")
    if not isinstance(config.extra, dict):
        raise ConfigError("model config: extra must be an object")


def check_conv_shape(config, fail, what: str = "a convolutional autoencoder") -> None:
    """A conv network's shape: (C, H, W) matching n_features, at least one conv layer, a
    known decoder kind."""
    if config.image_shape is None or len(config.image_shape) != 3:
        fail(f"{what} needs image_shape = (C, H, W)")
    if math.prod(config.image_shape) != config.n_features:
        fail(f"image_shape {config.image_shape} has {math.prod(config.image_shape)} values "
             f"but n_features is {config.n_features}")
    if not config.hidden:
        fail(f"{what} needs at least one conv layer (hidden)")
    if config.decoder not in DECODER_KINDS:
        fail(f"decoder {config.decoder!r} is not one of {list(DECODER_KINDS)}")


def check_sizes(config, fail) -> None:
    """Sizes every network shares: n_features, the layer widths, the activation."""
    if not 0 < config.n_features <= 10**8:
        fail(f"n_features must be a positive integer up to 1e8, got {config.n_features!r}")
    if len(config.hidden) > MAX_DEPTH:
        fail(f"hidden has {len(config.hidden)} layers; at most {MAX_DEPTH}")
    if any(not 0 < h <= MAX_LAYER_WIDTH for h in config.hidden):
        fail(f"hidden sizes must be in 1..{MAX_LAYER_WIDTH}, got {list(config.hidden)}")
    if config.activation not in ACTIVATIONS:
        fail(f"activation {config.activation!r} is not one of {sorted(ACTIVATIONS)}")


def count_parameters(config) -> int:
    """Parameters of the network ``config`` builds, counted on the meta device."""
    with torch.device("meta"):
        module = config.module_class()(config)
    return sum(p.numel() for p in module.parameters())


def check_parameters(config, fail) -> None:
    n = config.parameter_count()
    if n > MAX_PARAMETERS:
        fail(f"{n:.3g} parameters is more than the limit {MAX_PARAMETERS:.0e}")


@dataclass
class ModelConfig:
    """Everything needed to rebuild an autoencoder; JSON-serialisable (see ``to_dict``).
    A segmentation network has its own (:class:`aekit.models.segmentation.
    SegmentationConfig`); :func:`config_from_dict` reads either."""

    n_features: int
    architecture: str = "dense"
    hidden: tuple[int, ...] = (100,)  # dense: encoder widths before the code; conv: channels
    code_size: int | None = 30  # conv: None keeps the last feature map as the code
    activation: str = "relu"
    code_activation: str | None = None  # None: same as ``activation`` (linear for VAEs' heads)
    output_activation: str = "sigmoid"
    tied: bool = False
    image_shape: tuple[int, int, int] | None = None  # (C, H, W), required for conv
    decoder: str = "transpose"  # conv only: one of DECODER_KINDS
    variational: bool = False
    # A VAE's prior p(z) (aekit.models.priors): "standard" N(0, I), or "vamp" with
    # n_pseudo_inputs learned pseudo-inputs (their values are weights of the module).
    prior: str = "standard"
    n_pseudo_inputs: int | None = None
    extra: dict = field(default_factory=dict)  # free-form, ignored by the builder

    def __post_init__(self):
        check_field_types(self, integers=("n_features",),
                          optional_integers=("code_size", "n_pseudo_inputs"),
                          sizes=("hidden",), optional_sizes=("image_shape",),
                          flags=("tied", "variational"),
                          strings=("architecture", "activation", "output_activation",
                                   "decoder", "prior"),
                          optional_strings=("code_activation",))
        self.validate()

    @property
    def resolved_code_activation(self) -> str:
        return self.code_activation or self.activation

    def validate(self) -> None:
        def fail(msg):
            raise ConfigError(f"model config: {msg}")

        check_sizes(self, fail)
        if self.architecture not in ARCHITECTURES:
            fail(f"architecture {self.architecture!r} is not one of {list(ARCHITECTURES)}")
        for name in ("code_activation", "output_activation"):
            value = getattr(self, name)
            if value is not None and value not in ACTIVATIONS:
                fail(f"{name} {value!r} is not one of {sorted(ACTIVATIONS)}")
        if self.output_activation not in OUTPUT_ACTIVATIONS:
            fail(f"output_activation must be one of {list(OUTPUT_ACTIVATIONS)}")
        if self.code_size is not None and not 0 < int(self.code_size) <= MAX_LAYER_WIDTH:
            fail(f"code_size must be in 1..{MAX_LAYER_WIDTH}, got {self.code_size!r}")
        if self.architecture == "dense" and self.code_size is None:
            fail("a dense autoencoder needs code_size")
        if self.variational and self.code_size is None:
            fail("a variational autoencoder needs code_size (the latent dimension)")
        if self.tied and (self.architecture != "dense" or self.variational):
            fail("tied weights apply to plain dense autoencoders only")
        if self.architecture == "conv":
            check_conv_shape(self, fail)
        if self.prior not in PRIORS:
            fail(f"prior {self.prior!r} is not one of {list(PRIORS)}")
        if self.prior != "standard" and not self.variational:
            fail(f"prior={self.prior!r} is a variational autoencoder's prior over its codes; "
                 "a plain autoencoder has none")
        if (self.prior == "vamp") != (self.n_pseudo_inputs is not None):
            fail("n_pseudo_inputs goes with prior='vamp' (and only with it)")
        if self.n_pseudo_inputs is not None and \
                not 1 <= self.n_pseudo_inputs <= MAX_PSEUDO_INPUTS:
            fail(f"n_pseudo_inputs must be in 1..{MAX_PSEUDO_INPUTS}, "
                 f"got {self.n_pseudo_inputs!r}")
        check_parameters(self, fail)

    def parameter_count(self) -> int:
        """The network's parameter count, from its modules built on the meta device
        (nothing allocated, no initialisation): a config too large to build is refused
        before any weight exists."""
        return count_parameters(self)

    def module_class(self) -> type:
        """The module class this config builds."""
        return VariationalAutoencoder if self.variational else Autoencoder

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        d["image_shape"] = list(self.image_shape) if self.image_shape else None
        if d["prior"] == "standard":  # configs with the standard prior stay as they were
            for key in ("prior", "n_pseudo_inputs"):
                del d[key]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return dict_to_config(cls, d)


def dict_to_config(cls, d: dict, fixed: dict | None = None):
    """``cls(**d)`` for a config read from a file, unknown keys refused; ``fixed``: keys
    the file carries that must have exactly these values (not fields of ``cls``)."""
    if not isinstance(d, dict):
        raise ConfigError("model config must be a JSON object")
    d = dict(d)
    for key, value in (fixed or {}).items():
        if key in d and d.pop(key) != value:
            raise ConfigError(f"model config: {key} must be {json_literal(value)} for this "
                              "network")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - known
    if unknown:
        raise ConfigError(f"model config: unknown keys {sorted(unknown)}")
    try:
        return cls(**d)
    except TypeError as exc:
        raise ConfigError(f"model config: {exc}") from None


# What a named network's saved config says it is (config.json's "model" object).
NETWORK_KEY = "network"


class NamedConfig:
    """The config of a network known by name (the few-label networks, the VQ-VAE): its
    dict form carries the name (:data:`NETWORK_KEY`), which
    :func:`aekit.models.config_from_dict` reads to rebuild it."""

    name = ""

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for key, value in d.items():
            if isinstance(value, tuple):
                d[key] = list(value)
        return {NETWORK_KEY: self.name, **d}

    @classmethod
    def from_dict(cls, d: dict):
        d = dict(d)
        if d.pop(NETWORK_KEY, cls.name) != cls.name:
            raise ConfigError(f"model config: not a {cls.name} network")
        return dict_to_config(cls, d)

    def parameter_count(self) -> int:
        return count_parameters(self)

    # what code reading any network's config sees
    tied = False
    architecture = "dense"



def json_literal(value) -> str:
    return {None: "null", True: "true", False: "false"}.get(value, repr(value)) \
        if isinstance(value, (bool, type(None))) else repr(value)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class Autoencoder(nn.Module):
    """A deterministic autoencoder.

    Its public contract, which everything outside the module calls (the fitted model,
    ONNX export, TensorBoard, the objective, the report): ``encode_with_context(x) ->
    (z, context)`` (the code and what the decoder needs from the encoder: SegNet's pooling
    indices, else None), ``decode_logits(z, context=None)`` (pre-activation output),
    ``output(logits)`` (the output activation), and their compositions ``encode``,
    ``decode``, ``reconstruct`` and ``forward(x)``: a dict with ``code`` (B, k),
    ``logits`` (B x n_features) and ``recon`` (output after the output activation).
    """

    variational = False

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.output_activation = config.output_activation
        act, code_act = config.activation, config.resolved_code_activation
        if config.architecture == "dense":
            self.encoder = DenseEncoder(config.n_features, [*config.hidden, config.code_size],
                                        [act] * len(config.hidden) + [code_act])
            self.decoder = self._dense_decoder(config)
            self.to_code = self.from_code = None
        else:
            c = config
            self.encoder = ConvEncoder(c.image_shape, c.hidden, act,
                                       return_indices=c.decoder == "unpool")
            self.decoder = ConvDecoder(c.image_shape, c.hidden, act, c.decoder,
                                       c.output_activation)
            self._build_conv_bottleneck(heads=1)

    def _dense_decoder(self, config):
        hidden_acts = [config.activation] * len(config.hidden)
        if config.tied:
            return TiedDenseDecoder(self.encoder, hidden_acts)
        sizes = [config.code_size, *reversed(config.hidden), config.n_features]
        return DenseDecoder(sizes, hidden_acts, config.output_activation)

    def _build_conv_bottleneck(self, heads: int):
        """Optional dense code layer(s) between the conv feature map and the decoder."""
        c = self.config
        flat = math.prod(self.encoder.out_shape)
        if c.code_size is None:
            self.to_code = self.from_code = None
            return
        code_act = "linear" if heads == 2 else c.resolved_code_activation
        self.to_code = nn.ModuleList(linear(flat, c.code_size, code_act) for _ in range(heads))
        self.code_act = activation(code_act)
        self.from_code = nn.Sequential(linear(c.code_size, flat, c.activation),
                                       activation(c.activation))

    @property
    def code_size(self) -> int:
        c = self.config
        return c.code_size if c.code_size is not None else math.prod(self.encoder.out_shape)

    # --- encoder side -------------------------------------------------------------------
    def _features(self, x: torch.Tensor):
        """Encoder body: (B, D) -> (B, F) flat features, plus pooling context (conv)."""
        if self.config.architecture == "dense":
            return self.encoder(x), None
        h, context = self.encoder(x.view(-1, *self.config.image_shape))
        return h.flatten(1), context

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, D) -> code (B, k)."""
        return self.encode_with_context(x)[0]

    def encode_with_context(self, x: torch.Tensor):
        """x (B, D) -> (code (B, k), the decoder's context from the encoder or None)."""
        h, context = self._features(x)
        if self.to_code is not None:
            h = self.code_act(self.to_code[0](h))
        return h, context

    # --- decoder side -------------------------------------------------------------------
    def decode_logits(self, z: torch.Tensor, context=None) -> torch.Tensor:
        """code (B, k) -> pre-activation output (B, D)."""
        if self.config.architecture == "dense":
            return self.decoder(z)
        if self.from_code is not None:
            z = self.from_code(z)
        out = self.decoder(z.view(-1, *self.encoder.out_shape), context)
        return out.flatten(1)

    def output(self, logits: torch.Tensor) -> torch.Tensor:
        """Pre-activation output -> output (the sigmoid, or the identity)."""
        return torch.sigmoid(logits) if self.output_activation == "sigmoid" else logits

    def decode(self, z: torch.Tensor, context=None) -> torch.Tensor:
        """code (B, k) -> reconstruction (B, D), after the output activation."""
        return self.output(self.decode_logits(z, context))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, D) -> its reconstruction through the deterministic code (a VAE's mean)."""
        z, context = self.encode_with_context(x)
        return self.decode(z, context)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        z, context = self.encode_with_context(x)
        logits = self.decode_logits(z, context)
        return {"code": z, "logits": logits,
                "recon": self.output(logits)}


class VariationalAutoencoder(Autoencoder):
    """Gaussian encoder q(z|x) = N(mu, diag(sigma^2)) with the reparameterization trick.

    ``encode`` returns the posterior mean mu (the deterministic code used by ``transform``);
    ``forward`` samples z = mu + sigma * eps, eps ~ N(0, I) (Kingma & Welling 2014, sec. 2.4),
    so gradients flow through mu and log sigma^2.
    """

    variational = True

    def __init__(self, config: ModelConfig):
        nn.Module.__init__(self)
        self.config = config
        self.output_activation = config.output_activation
        c, act = config, config.activation
        if c.architecture == "dense":
            self.encoder = DenseEncoder(c.n_features, c.hidden, [act] * len(c.hidden))
            flat = c.hidden[-1] if c.hidden else c.n_features
            self.to_code = nn.ModuleList(linear(flat, c.code_size, "linear") for _ in range(2))
            self.code_act = nn.Identity()
            self.from_code = None
            sizes = [c.code_size, *reversed(c.hidden), c.n_features]
            self.decoder = DenseDecoder(sizes, [act] * len(c.hidden), c.output_activation)
        else:
            if c.decoder == "unpool":
                raise ConfigError("a variational autoencoder cannot use decoder='unpool': "
                                  "samples from the prior have no pooling indices")
            self.encoder = ConvEncoder(c.image_shape, c.hidden, act)
            self.decoder = ConvDecoder(c.image_shape, c.hidden, act, c.decoder,
                                       c.output_activation)
            self._build_conv_bottleneck(heads=2)
        # built last: the other weights are drawn as they always were
        self.prior = build_prior(c.prior, c.code_size, c.n_features, c.n_pseudo_inputs,
                                 bounded=c.output_activation == "sigmoid")

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) for codes z (..., k): (...,)."""
        return self.prior.log_prob(z, self)

    def kl_to_prior(self, mu, logvar, z) -> torch.Tensor:
        """The ELBO's KL(q(z|x) || p(z)) per row (B,): closed form for N(0, I), else
        estimated at the sample z drawn from q(z|x) (B, k)."""
        return self.prior.kl(mu, logvar, z, self)

    def encode_distribution(self, x: torch.Tensor):
        """x (B, D) -> (mu, logvar), each (B, k); logvar = log sigma^2."""
        h, _ = self._features(x)
        return self.to_code[0](h), self.to_code[1](h)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode_distribution(x)[0]

    def encode_with_context(self, x):
        return self.encode(x), None

    @staticmethod
    def reparameterize(mu, logvar, generator: torch.Generator | None = None):
        """z = mu + sigma * eps with eps ~ N(0, I) drawn from ``generator``."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        mu, logvar = self.encode_distribution(x)
        z = self.reparameterize(mu, logvar, generator)
        logits = self.decode_logits(z)
        return {"code": z, "mu": mu, "logvar": logvar, "logits": logits,
                "recon": self.output(logits)}

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n codes (n, k) drawn from the prior p(z)."""
        if self.prior.kind != "standard":
            return sample_components(*self.prior.components(self), n, generator)
        p = next(self.parameters())
        return torch.randn((n, self.config.code_size), generator=generator, device=p.device,
                           dtype=p.dtype)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws from the generative model: z ~ p(z), x = decode(z) (the mean)."""
        return self.decode(self.sample_prior(n, generator))
