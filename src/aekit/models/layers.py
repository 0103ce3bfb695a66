"""Activations and weight initialisation shared by every architecture."""

from __future__ import annotations

import math

import torch
from torch import nn

from aekit.errors import ConfigError

ACTIVATIONS = {
    "relu": nn.ReLU,
    "selu": nn.SELU,
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "linear": nn.Identity,
}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name; ``linear`` is the identity."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ConfigError(
            f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}"
        ) from None


def init_weight_(weight: torch.Tensor, activation_name: str) -> None:
    """Initialise a Linear/Conv weight for the activation that follows it.

    Glorot (Xavier) uniform for tanh/sigmoid/linear, He (Kaiming) normal for relu/elu,
    LeCun normal for selu (what self-normalisation assumes; Klambauer et al. 2017).
    A weight on the meta device (a network built only to be counted) is left as it is:
    it has no values, and torch's normal draw there imports torch._dynamo (about 1 s).
    """
    if weight.is_meta:
        return
    if activation_name in ("relu", "elu"):
        nn.init.kaiming_normal_(weight, nonlinearity="relu")
    elif activation_name == "selu":
        fan_in = weight[0].numel()
        nn.init.normal_(weight, 0.0, 1.0 / math.sqrt(fan_in))
    else:
        gain = nn.init.calculate_gain("tanh") if activation_name == "tanh" else 1.0
        nn.init.xavier_uniform_(weight, gain=gain)


def linear(n_in: int, n_out: int, activation_name: str) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    init_weight_(layer.weight, activation_name)
    nn.init.zeros_(layer.bias)
    return layer
