"""Convolutional encoder (conv + max-pool) and three decoders that undo the pooling.

Works for any image size and channel count: the encoder records the spatial size before
each pool (odd sizes floor, e.g. 7 -> 3), and each decoder restores exactly those sizes.

Decoder kinds
- ``transpose``: ConvTranspose2d with stride 2 (``output_size`` fixes odd sizes);
- ``upsample``: nearest-neighbour upsampling to the recorded size, then a 3x3 conv;
- ``unpool``: SegNet-style MaxUnpool2d with the encoder's pooling indices, then a 3x3 conv.
  When no indices exist (decoding a free code: generation, interpolation), each value goes
  to the top-left cell of its 2x2 window, i.e. unpooling with fixed indices.

``convs_per_block`` > 1 adds 3x3 convs (width kept) after each block's first conv, as in
SegNet's decoder, whose filter banks densify the sparse unpooled maps (Badrinarayanan et
al., sec. 3); segmentation networks use 2.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from aekit.errors import ConfigError
from aekit.models.layers import activation, init_weight_

DECODER_KINDS = ("transpose", "upsample", "unpool")


def _conv(c_in: int, c_out: int, act: str) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1)
    init_weight_(conv.weight, act)
    nn.init.zeros_(conv.bias)
    return conv


def pooled_sizes(height: int, width: int, n_pools: int) -> list[tuple[int, int]]:
    """Spatial sizes before each pool and after the last: [(H, W), (H//2, W//2), ...]."""
    sizes = [(height, width)]
    for _ in range(n_pools):
        h, w = sizes[-1]
        if h < 2 or w < 2:
            raise ConfigError(
                f"image {height}x{width} is too small for {n_pools} 2x2 poolings; "
                "use fewer conv channels (layers)"
            )
        sizes.append((h // 2, w // 2))
    return sizes


class ConvEncoder(nn.Module):
    """x (B, C, H, W) -> feature map (B, channels[-1], H', W') and pooling context."""

    def __init__(self, image_shape: Sequence[int], channels: Sequence[int], act: str,
                 return_indices: bool = False):
        super().__init__()
        c, h, w = image_shape
        self.sizes = pooled_sizes(h, w, len(channels))
        dims = [c, *channels]
        self.convs = nn.ModuleList(_conv(a, b, act) for a, b in zip(dims[:-1], dims[1:]))
        self.acts = nn.ModuleList(activation(act) for _ in channels)
        self.return_indices = return_indices
        self.out_shape = (channels[-1], *self.sizes[-1])

    def forward(self, x: torch.Tensor):
        # Without indices: pool, then activate. Every activation aekit has is non-decreasing,
        # so it commutes with max - act(maxpool(x)) == maxpool(act(x)), same gradients - and
        # the activation (and its backward) touches a quarter of the values (~5% of a conv
        # AE's step, measured). With indices (SegNet unpooling) the order stays: where a
        # window is all <= 0 after relu, its index must be that of the activated map.
        indices = []
        for conv, act in zip(self.convs, self.acts):
            x = conv(x)  # (B, C_l, H_l, W_l)
            if self.return_indices:
                x, idx = F.max_pool2d(act(x), 2, return_indices=True)  # feeds max_unpool2d
                indices.append(idx)
            else:
                x = act(F.max_pool2d(x, 2))  # (B, C_l, H_l/2, W_l/2)
        return x, {"indices": indices} if self.return_indices else None


class ConvDecoder(nn.Module):
    """feature map (B, channels[-1], H', W') -> pre-activation image (B, C, H, W)."""

    def __init__(self, image_shape: Sequence[int], channels: Sequence[int], act: str,
                 kind: str, output_activation: str, convs_per_block: int = 1):
        super().__init__()
        if kind not in DECODER_KINDS:
            raise ConfigError(f"unknown conv decoder {kind!r}; choose one of {list(DECODER_KINDS)}")
        c, h, w = image_shape
        self.kind = kind
        # Mirror of the encoder: undo pools in reverse order, ending at the input channels.
        self.targets = list(reversed(pooled_sizes(h, w, len(channels))[:-1]))
        dims = [*reversed(channels), c]
        acts = [act] * (len(channels) - 1) + [output_activation]
        # For "transpose" the stride-2 transposed conv both upsamples and maps channels.
        # Otherwise the unpool/upsample step keeps channels and a 3x3 conv maps them.
        layers = []
        for a, b, layer_act in zip(dims[:-1], dims[1:], acts):
            if kind == "transpose":
                # k=4, s=2, p=1 gives 2n or (output_padding=1) 2n+1: every floor-pooled size.
                layer = nn.ConvTranspose2d(a, b, kernel_size=4, stride=2, padding=1)
                init_weight_(layer.weight, layer_act)
                nn.init.zeros_(layer.bias)
            else:
                layer = _conv(a, b, layer_act)
            layers.append(layer)
        self.layers = nn.ModuleList(layers)
        self.acts = nn.ModuleList(activation(act) for _ in range(len(channels) - 1))
        # block i: upsample -> layers[i] -> act -> [refine[i][j] -> act]..., the last
        # block's final conv left pre-activation like layers[-1] without refinement. With
        # one conv per block the lists are empty: no weights, so older files keep their keys.
        self.refine = nn.ModuleList(
            nn.ModuleList(_conv(b, b, act) for _ in range(convs_per_block - 1))
            for b in dims[1:])
        self.refine_act = activation(act)

    def _upsample(self, x, i, size, context):
        if self.kind == "transpose":
            return self.layers[i](x, output_size=size)
        if self.kind == "upsample":
            return self.layers[i](F.interpolate(x, size=size, mode="nearest"))
        indices = context["indices"][-1 - i] if context else _top_left_indices(x, size)
        return self.layers[i](F.max_unpool2d(x, indices, 2, output_size=size))

    def forward(self, x: torch.Tensor, context=None) -> torch.Tensor:
        last = len(self.targets) - 1
        for i, size in enumerate(self.targets):
            x = self._upsample(x, i, size, context)
            for conv in self.refine[i]:
                x = conv(self.refine_act(x))
            if i < last:
                x = self.acts[i](x)
        return x


def _top_left_indices(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Flat indices of each 2x2 window's top-left cell, shaped like ``x``: the fixed
    unpooling used when decoding a code that has no encoder indices."""
    b, c, h, w = x.shape
    rows = torch.arange(h, device=x.device) * 2
    cols = torch.arange(w, device=x.device) * 2
    idx = rows[:, None] * size[1] + cols[None, :]  # (h, w)
    return idx.expand(b, c, h, w).contiguous()
