"""The VQ-VAE (van den Oord, Vinyals & Kavukcuoglu 2017, "Neural discrete representation
learning"): a conv encoder whose feature map is snapped, cell by cell, to the nearest of K
learned codebook vectors, so an image's code is a grid of K-way indices; a conv decoder
maps the quantised grid back to the image. And a small autoregressive prior over that grid
(:class:`IndexPrior`, a PixelCNN: van den Oord et al. 2016), fitted to the training
images' indices after the autoencoder, so the model generates.

- Gradients pass the quantiser straight through: z_q = z_e + sg(e - z_e) (sec. 3.1).
- The codebook follows its assigned encoder outputs by exponential moving averages
  (Appendix A.1, decay 0.99, Laplace-smoothed counts), and the encoder is held to its
  codes by the commitment term beta ||z_e - sg(e)||^2 (eq. 3; the objective adds it).
- Dead codes (an EMA count below one vector per batch) restart at encoder outputs of the
  batch drawn at random (as in Dhariwal et al. 2020, "Jukebox"), and the codebook starts
  at K encoder outputs of the first batch: both keep the codebook in use.

Rows flow flat as for every aekit network: the code of x (B, D) is its index grid
(B, h*w), float-valued (exact below 2^24), so the fitted model's one inference path,
the estimators' transform / inverse_transform and ONNX export need nothing new.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from aekit.errors import ConfigError
from aekit.models.autoencoder import (
    OUTPUT_ACTIVATIONS, Autoencoder, NamedConfig, check_conv_shape, check_field_types,
    check_parameters, check_sizes,
)
from aekit.models.conv import ConvDecoder, ConvEncoder
from aekit.models.layers import activation, init_weight_

MAX_CODEBOOK = 65_536


@dataclass
class VQConfig(NamedConfig):
    """Everything needed to rebuild a VQ-VAE and its prior; JSON-serialisable."""

    n_features: int
    image_shape: tuple[int, int, int]  # (C, H, W)
    hidden: tuple[int, ...] = (32, 64)  # conv channels, each followed by a 2x2 pool
    codebook_size: int = 128  # K
    embedding_dim: int = 16  # D, the width of each codebook vector
    activation: str = "relu"
    decoder: str = "transpose"
    output_activation: str = "sigmoid"
    ema_decay: float = 0.99
    # the autoregressive prior: a PixelCNN of prior_layers residual 3x3 masked convs
    prior_channels: int = 64
    prior_layers: int = 4
    extra: dict = field(default_factory=dict)

    name = "vqvae"
    architecture = "conv"
    variational = False
    tied = False

    def __post_init__(self):
        check_field_types(self, integers=("n_features", "codebook_size", "embedding_dim",
                                          "prior_channels", "prior_layers"),
                          sizes=("hidden", "image_shape"),
                          strings=("activation", "decoder", "output_activation"))
        self.validate()

    def validate(self) -> None:
        def fail(msg):
            raise ConfigError(f"model config: {msg}")

        check_sizes(self, fail)
        check_conv_shape(self, fail, "a VQ-VAE")
        if self.decoder == "unpool":
            fail("a VQ-VAE cannot use decoder='unpool': codes drawn from its prior have no "
                 "pooling indices")
        if not 2 <= self.codebook_size <= MAX_CODEBOOK:
            fail(f"codebook_size must be in 2..{MAX_CODEBOOK}, got {self.codebook_size}")
        if not 1 <= self.embedding_dim <= 4096:
            fail(f"embedding_dim must be in 1..4096, got {self.embedding_dim}")
        if self.output_activation not in OUTPUT_ACTIVATIONS:
            fail(f"output_activation must be one of {list(OUTPUT_ACTIVATIONS)}")
        if isinstance(self.ema_decay, bool) or not isinstance(self.ema_decay, (int, float)) \
                or not 0 <= self.ema_decay < 1:
            fail(f"ema_decay must be a number in [0, 1), got {self.ema_decay!r}")
        self.ema_decay = float(self.ema_decay)
        if not 1 <= self.prior_channels <= 4096 or not 0 <= self.prior_layers <= 64:
            fail("prior_channels must be in 1..4096 and prior_layers in 0..64")
        check_parameters(self, fail)

    def module_class(self) -> type:
        return VQAutoencoder


class VectorQuantizer(nn.Module):
    """K codebook vectors of width D (buffers: updated by moving averages, not gradients).

    ``nearest(z_e)`` gives each row's code index (N,); ``update(z_e, index)``, called by
    the network in training, moves the codebook towards its assignments."""

    def __init__(self, codebook_size: int, dim: int, decay: float):
        super().__init__()
        self.decay = decay
        self.register_buffer("embedding", torch.empty(codebook_size, dim))
        self.register_buffer("cluster_size", torch.zeros(codebook_size))
        self.register_buffer("embed_sum", torch.empty(codebook_size, dim))
        # 0 until the first training batch has seeded the codebook
        self.register_buffer("initialised", torch.zeros(()))
        if not self.embedding.is_meta:
            nn.init.normal_(self.embedding)
            self.embed_sum.copy_(self.embedding)

    @property
    def size(self) -> int:
        return int(self.embedding.shape[0])

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """The index of each row's nearest codebook vector (N,), in squared distance
        ||z||^2 - 2 z.e + ||e||^2 (||z||^2 is the same for every vector: left out)."""
        e = self.embedding.to(z.dtype)
        return torch.argmin(e.pow(2).sum(1) - 2 * z @ e.T, dim=1)

    @torch.no_grad()
    def update(self, z: torch.Tensor, index: torch.Tensor, generator=None) -> None:
        """One EMA step of the codebook towards the batch's assignments (van den Oord et al.
        2017, Appendix A.1): N_k <- g N_k + (1 - g) n_k, m_k <- g m_k + (1 - g) sum z,
        e_k = m_k / N_k with Laplace-smoothed N_k; then dead codes restart."""
        z = z.detach().float()
        K = self.size
        if not bool(self.initialised):  # start at K encoder outputs of the first batch
            pick = torch.randint(0, len(z), (K,), generator=generator, device=z.device)
            self.embedding.copy_(z[pick])
            self.embed_sum.copy_(z[pick])
            self.cluster_size.fill_(1.0)
            self.initialised.fill_(1.0)
            return
        onehot = F.one_hot(index, K).to(z.dtype)  # (N, K)
        g = self.decay
        self.cluster_size.mul_(g).add_(onehot.sum(0), alpha=1 - g)
        self.embed_sum.mul_(g).add_(onehot.T @ z, alpha=1 - g)
        n = self.cluster_size.sum()
        eps = 1e-5
        smoothed = (self.cluster_size + eps) / (n + K * eps) * n
        self.embedding.copy_(self.embed_sum / smoothed.unsqueeze(1))
        dead = self.cluster_size < 1.0  # under one vector per batch, on average
        if bool(dead.any()):
            count = int(dead.sum())
            pick = torch.randint(0, len(z), (count,), generator=generator, device=z.device)
            self.embedding[dead] = z[pick]
            self.embed_sum[dead] = z[pick]
            self.cluster_size[dead] = 1.0


class MaskedConv2d(nn.Conv2d):
    """A convolution that sees only the cells before the centre in raster order (type
    'A', the first layer) or those and the centre ('B'): PixelCNN's causal mask."""

    def __init__(self, kind: str, c_in: int, c_out: int, size: int):
        super().__init__(c_in, c_out, size, padding=size // 2)
        mask = torch.ones(size, size)
        mask[size // 2, size // 2 + (kind == "B"):] = 0
        mask[size // 2 + 1:] = 0
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class IndexPrior(nn.Module):
    """p(indices) = prod_i p(k_i | k_<i) over the h x w grid in raster order: a small
    PixelCNN (a 7x7 type-A masked conv on the indices' embeddings, residual 3x3 type-B
    blocks, a 1x1 conv to K logits per cell). Its input rows are index grids (B, h*w)."""

    def __init__(self, codebook_size: int, grid: tuple[int, int], channels: int,
                 layers: int):
        super().__init__()
        self.grid = tuple(grid)
        self.embed = nn.Embedding(codebook_size, channels)
        self.first = MaskedConv2d("A", channels, channels, 7)
        self.blocks = nn.ModuleList(MaskedConv2d("B", channels, channels, 3)
                                    for _ in range(layers))
        self.out = nn.Conv2d(channels, codebook_size, 1)
        for conv in (self.first, *self.blocks):
            init_weight_(conv.weight, "relu")
            nn.init.zeros_(conv.bias)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """Index grids (B, h*w) (any dtype) -> logits (B, K, h*w)."""
        h, w = self.grid
        k = rows.long().view(-1, h, w)
        x = self.embed(k).permute(0, 3, 1, 2)  # (B, C, h, w)
        x = F.relu(self.first(x))
        for conv in self.blocks:
            x = x + F.relu(conv(x))
        return self.out(x).flatten(2)

    def log_prob(self, rows: torch.Tensor) -> torch.Tensor:
        """log p of each grid (B,), nats."""
        logp = torch.log_softmax(self.forward(rows).double(), dim=1)
        return logp.gather(1, rows.long().unsqueeze(1)).squeeze(1).sum(1)

    @torch.no_grad()
    def sample(self, n: int, generator=None) -> torch.Tensor:
        """n grids (n, h*w) drawn cell by cell in raster order, as float indices."""
        h, w = self.grid
        dev = self.out.weight.device
        rows = torch.zeros((n, h * w), device=dev)
        for i in range(h * w):
            probs = torch.softmax(self.forward(rows)[:, :, i].double(), dim=1)
            rows[:, i] = torch.multinomial(probs, 1, generator=generator).squeeze(1).float()
        return rows


class VQAutoencoder(Autoencoder):
    """The VQ-VAE network and its prior (``prior``). Its code is the index grid (B, h*w):
    :meth:`encode` gives it (as floats), :meth:`decode_logits` decodes one. ``forward``
    (training) also returns the encoder's outputs ``z_e`` and their codebook vectors
    ``z_q`` (for the commitment term), and moves the codebook while training."""

    variational = False

    def __init__(self, config: VQConfig):
        nn.Module.__init__(self)
        self.config = c = config
        self.output_activation = c.output_activation
        self.encoder = ConvEncoder(c.image_shape, c.hidden, c.activation)
        width = c.hidden[-1]
        self.to_code = nn.Conv2d(width, c.embedding_dim, 1)  # the feature map -> D per cell
        init_weight_(self.to_code.weight, "linear")
        nn.init.zeros_(self.to_code.bias)
        self.from_code = nn.Conv2d(c.embedding_dim, width, 1)
        init_weight_(self.from_code.weight, c.activation)
        nn.init.zeros_(self.from_code.bias)
        self.code_act = activation(c.activation)
        self.decoder = ConvDecoder(c.image_shape, c.hidden, c.activation, c.decoder,
                                   c.output_activation)
        self.quantizer = VectorQuantizer(c.codebook_size, c.embedding_dim, c.ema_decay)
        self.prior = IndexPrior(c.codebook_size, self.grid, c.prior_channels, c.prior_layers)

    @property
    def grid(self) -> tuple[int, int]:
        """(h, w) of the index grid."""
        return tuple(self.encoder.out_shape[1:])

    @property
    def code_size(self) -> int:
        return math.prod(self.grid)

    @property
    def codebook_size(self) -> int:
        return self.quantizer.size

    def encode_continuous(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, D_in) -> the encoder's outputs z_e (B*h*w, D), cells in raster order."""
        h, _ = self.encoder(x.view(-1, *self.config.image_shape))
        z = self.to_code(h)  # (B, D, h, w)
        return z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, D_in) -> index grid (B, h*w), float."""
        index = self.quantizer.nearest(self.encode_continuous(x))
        return index.view(-1, self.code_size).to(x.dtype)  # (no len(x): ONNX's batch axis)

    def encode_with_context(self, x):
        return self.encode(x), None

    def _decode_vectors(self, zq: torch.Tensor) -> torch.Tensor:
        """Codebook vectors (B*h*w, D) in raster order -> logits (B, D_in)."""
        h, w = self.grid
        grid = zq.view(-1, h, w, zq.shape[1]).permute(0, 3, 1, 2)
        out = self.decoder(self.code_act(self.from_code(grid)))
        return out.flatten(1)

    def decode_logits(self, z: torch.Tensor, context=None) -> torch.Tensor:
        """Index grids (B, h*w) -> pre-activation output (B, D_in)."""
        index = z.long().reshape(-1)
        return self._decode_vectors(self.quantizer.embedding.to(z.dtype)[index]
                                    if z.is_floating_point()
                                    else self.quantizer.embedding[index])

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        ze = self.encode_continuous(x)
        index = self.quantizer.nearest(ze)
        if self.training and torch.is_grad_enabled():
            self.quantizer.update(ze, index, generator)
            index = self.quantizer.nearest(ze)  # against the codebook this step decodes
        zq = self.quantizer.embedding.to(ze.dtype)[index]
        logits = self._decode_vectors(ze + (zq - ze).detach())  # straight through
        return {"code": index.view(-1, self.code_size).to(x.dtype), "z_e": ze, "z_q": zq,
                "logits": logits, "recon": self.output(logits)}

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws: an index grid from the prior, decoded (the decoder's output)."""
        return self.decode(self.prior.sample(n, generator))
