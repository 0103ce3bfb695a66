"""SegNet (Badrinarayanan et al., arXiv:1511.00561) as its own network and config: the
conv encoder and one of the decoders of :mod:`aekit.models.conv` (``'unpool'``: max-
unpooling with the encoder's pooling indices), then a per-pixel class head. It shares the
autoencoder's parts, not its type: it has no code to decode and no reconstruction.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from aekit.errors import ConfigError
from aekit.models.autoencoder import (
    check_conv_shape, check_field_types, check_parameters, check_sizes, count_parameters,
    dict_to_config,
)
from aekit.models.conv import ConvDecoder, ConvEncoder
from aekit.models.layers import activation

# A segmenter's labels are 0 .. MAX_CLASSES - 1, checked before any network is built: the
# head has one output per class up to the largest label, so one stray pixel labelled 100000
# would build a 100001-class network (8 GB). 255 is left out because data sets use it for
# "void" pixels (PASCAL VOC, CamVid); aekit has no ignore label, so they must be relabelled.
MAX_CLASSES = 255
# The autoencoder-config keys a segmentation network's saved config carries (files keep
# one schema for every network), at the only values they can have.
FIXED_KEYS = {"architecture": "conv", "code_size": None, "code_activation": None,
              "output_activation": "linear", "tied": False, "variational": False}


@dataclass
class SegmentationConfig:
    """Everything needed to rebuild a segmentation network; JSON-serialisable."""

    n_features: int
    n_classes: int
    image_shape: tuple[int, int, int] | None = None  # (C, H, W)
    hidden: tuple[int, ...] = (16, 32, 64)  # channels per encoder block
    activation: str = "relu"
    decoder: str = "unpool"
    decoder_convs: int = 1  # 3x3 convs per decoder block (densify the unpooled maps)
    head_kernel: int = 1  # the class head's kernel: 3 also sees each pixel's neighbours
    extra: dict = field(default_factory=dict)  # free-form, ignored by the builder

    # What code that reads any network's config sees (read-only: FIXED_KEYS).
    architecture = FIXED_KEYS["architecture"]
    code_size = FIXED_KEYS["code_size"]
    code_activation = FIXED_KEYS["code_activation"]
    output_activation = FIXED_KEYS["output_activation"]  # logits
    tied = FIXED_KEYS["tied"]
    variational = FIXED_KEYS["variational"]

    def __post_init__(self):
        check_field_types(self, integers=("n_features", "n_classes", "decoder_convs",
                                          "head_kernel"),
                          sizes=("hidden",), optional_sizes=("image_shape",),
                          strings=("activation", "decoder"))
        self.validate()

    def validate(self) -> None:
        def fail(msg):
            raise ConfigError(f"model config: {msg}")

        check_sizes(self, fail)
        check_conv_shape(self, fail, "a segmentation network")
        if not 2 <= self.n_classes <= MAX_CLASSES:
            fail(f"n_classes must be in 2..{MAX_CLASSES}, got {self.n_classes!r}")
        if not 1 <= self.decoder_convs <= 4:
            fail(f"decoder_convs must be in 1..4, got {self.decoder_convs!r}")
        if self.head_kernel not in (1, 3, 5):
            fail(f"head_kernel must be 1, 3 or 5, got {self.head_kernel!r}")
        check_parameters(self, fail)

    def parameter_count(self) -> int:
        """The network's parameter count, from its modules built on the meta device."""
        return count_parameters(self)

    def module_class(self) -> type:
        return SegmentationNetwork

    def to_dict(self) -> dict:
        """The saved form: the autoencoder config's keys in their order (FIXED_KEYS at
        their values), then the segmentation network's own."""
        d = dataclasses.asdict(self)
        return {"n_features": d["n_features"], "architecture": "conv",
                "hidden": list(self.hidden), "code_size": None,
                "activation": d["activation"], "code_activation": None,
                "output_activation": "linear", "tied": False,
                "image_shape": list(self.image_shape), "decoder": d["decoder"],
                "variational": False, "extra": d["extra"], "n_classes": d["n_classes"],
                "decoder_convs": d["decoder_convs"], "head_kernel": d["head_kernel"]}

    @classmethod
    def from_dict(cls, d: dict) -> "SegmentationConfig":
        return dict_to_config(cls, d, FIXED_KEYS)


class SegmentationNetwork(nn.Module):
    """The encoder, a decoder ending in ``hidden[0]`` full-resolution feature maps
    (``decoder_convs`` convs per block), then a per-pixel class head (a ``head_kernel``
    conv; softmax in the loss).

    ``forward(x)`` takes flat rows (B, D) like every aekit network and returns ``code``
    (B, k: the last feature map, flat) and ``logits`` (B, n_classes, H, W).
    """

    variational = False
    output_activation = "linear"  # its outputs are logits

    def __init__(self, config: SegmentationConfig):
        super().__init__()
        self.config = config
        c, act = config, config.activation
        feature_shape = (c.hidden[0], *c.image_shape[1:])  # (F, H, W) before the head
        self.encoder = ConvEncoder(c.image_shape, c.hidden, act,
                                   return_indices=c.decoder == "unpool")
        self.decoder = ConvDecoder(feature_shape, c.hidden, act, c.decoder, act,
                                   convs_per_block=c.decoder_convs)
        self.decoder_act = activation(act)
        self.head = nn.Conv2d(c.hidden[0], c.n_classes, kernel_size=c.head_kernel,
                              padding=c.head_kernel // 2)

    @property
    def code_size(self) -> int:
        return math.prod(self.encoder.out_shape)

    def encode_with_context(self, x: torch.Tensor):
        """x (B, D) -> (the last feature map, flat (B, k); the pooling indices or None)."""
        h, context = self.encoder(x.view(-1, *self.config.image_shape))
        return h.flatten(1), context

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode_with_context(x)[0]

    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, D) -> per-pixel class logits (B, n_classes, H, W)."""
        return self._head(*self.encode_with_context(x))

    def _head(self, z, context):
        h = self.decoder(z.view(-1, *self.encoder.out_shape), context)  # (B, F, H, W)
        return self.head(self.decoder_act(h))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        z, context = self.encode_with_context(x)
        return {"code": z, "logits": self._head(z, context)}
