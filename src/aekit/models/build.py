"""The one constructor of aekit's networks, and which config a saved ``model`` object is."""

from __future__ import annotations

import torch
from torch import nn

from aekit.errors import ConfigError
from aekit.models.autoencoder import NETWORK_KEY, ModelConfig
from aekit.models.segmentation import SegmentationConfig
from aekit.models.semisupervised import NETWORKS
from aekit.models.vq import VQConfig

# The networks known by name (a saved config's NETWORK_KEY): the few-label ones, the VQ-VAE.
NAMED = {**NETWORKS, VQConfig.name: VQConfig}


def module_class(config) -> type:
    """The module class a config builds (the config says)."""
    return config.module_class()


def config_from_dict(d: dict):
    """The config a file's ``model`` object describes: a named network's (a few-label one or
    the VQ-VAE: it names its ``network``), a segmentation network's (it names n_classes) or an autoencoder's."""
    if isinstance(d, dict) and NETWORK_KEY in d:
        config = NAMED.get(d[NETWORK_KEY]) if isinstance(d[NETWORK_KEY], str) else None
        if config is None:
            raise ConfigError(f"model config: unknown network {d[NETWORK_KEY]!r}; aekit "
                              f"knows {sorted(NAMED)}")
        return config.from_dict(d)
    if isinstance(d, dict) and d.get("n_classes") is not None:
        return SegmentationConfig.from_dict(d)
    return ModelConfig.from_dict(d)


def build_model(config, seed: int | None = None) -> nn.Module:
    """A config (or its dict) -> a fresh, initialised module: an autoencoder, or a
    segmentation network for a :class:`SegmentationConfig`.

    With ``seed`` the initial weights are reproducible. The global RNG is forked, seeded and
    restored, so the caller's random state is left exactly as it was.
    """
    if isinstance(config, dict):
        config = config_from_dict(config)
    cls = module_class(config)
    if seed is None:
        return cls(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(config)
