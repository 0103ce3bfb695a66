"""Greedy layer-wise training of a stacked dense autoencoder (Hinton & Salakhutdinov 2006;
Géron ch. 17 "training one autoencoder at a time").

Phase l trains a shallow autoencoder d_{l-1} -> d_l -> d_{l-1} on the codes of the layers
already trained, copies its encoder layer into encoder layer l and its decoder layer into
the mirrored decoder layer N-l+1, then encodes the data one layer further. Finally the whole
stack is fine-tuned end to end with the same loop.

The schedule is a sequence of ordinary :func:`train` runs, so it checkpoints like one: phase
``p`` writes its checkpoints to ``checkpoint_dir/<p>/`` (``layer-1`` ... ``layer-N``,
``fine-tune``), and ``resume=True`` replays finished phases from their last checkpoint (no
epochs run again; their final weights are restored exactly) and continues the interrupted one,
so a killed schedule ends bit-identical to an uninterrupted one (CPU, same seed).
"""

from __future__ import annotations

import dataclasses
import logging

import torch

from pathlib import Path

from aekit.errors import ConfigError
from aekit.losses import Objective
from aekit.models import ModelConfig, build_model
from aekit.training.trainer import TrainConfig, TrainResult, train

log = logging.getLogger(__name__)


def _shallow_objective(objective: Objective, layer: int, n_layers: int, first_kind: str):
    """Noise corrupts the input layer only; sparsity applies to the code layer only;
    inner layers reconstruct real-valued codes with MSE."""
    return dataclasses.replace(
        objective,
        reconstruction=first_kind if layer == 0 else "mse",
        noise=objective.noise if layer == 0 else None,
        sparsity=objective.sparsity if layer == n_layers - 1 else None,
    )


@torch.no_grad()
def _copy_layer(model, shallow, layer: int, n_layers: int) -> None:
    model.encoder.layers[layer].load_state_dict(shallow.encoder.layers[0].state_dict())
    mirror = n_layers - 1 - layer
    if model.config.tied:
        model.decoder.biases[mirror].copy_(shallow.decoder.biases[0])
    else:
        model.decoder.layers[mirror].load_state_dict(shallow.decoder.layers[0].state_dict())


def phase_names(n_layers: int, fine_tune: bool = True) -> list[str]:
    """The schedule's phases, in order: their checkpoint sub-folders."""
    return [f"layer-{i + 1}" for i in range(n_layers)] + (["fine-tune"] if fine_tune else [])


def greedy_layerwise(model, objective: Objective, X, *, config: TrainConfig,
                     pretrain_epochs: int | None = None, fine_tune: bool = True,
                     X_val=None, checkpoint_dir=None, resume: bool = False,
                     signature: dict | None = None, callbacks=()) -> dict:
    """Pre-train ``model`` (a plain dense Autoencoder) one layer at a time, then fine-tune.

    ``checkpoint_dir`` / ``resume`` / ``signature``: as in :func:`train`, per phase (see the
    module docstring); ``callbacks``: the fine-tune's. Returns ``{"layers": [TrainResult, ...], "fine_tune": TrainResult |
    None}``.
    """
    c = model.config
    if c.architecture != "dense" or c.variational:
        raise ConfigError("greedy layer-wise training applies to plain dense autoencoders")
    sizes = [*c.hidden, c.code_size]
    acts = model.encoder.activation_names
    n_layers = len(sizes)
    device = torch.device(config.device)
    model.to(device)
    pre = dataclasses.replace(config, epochs=pretrain_epochs or config.epochs)
    results = {"layers": [], "fine_tune": None}
    names = phase_names(n_layers, fine_tune)

    def run(phase: int, module, obj, data, cfg, **kw):
        where = None if checkpoint_dir is None else Path(checkpoint_dir) / names[phase]
        sig = None if signature is None else {**signature, "greedy_phase": names[phase],
                                              "pretrain_epochs": pre.epochs}
        if cfg.log_dir is not None:  # one TensorBoard run per phase: log_dir/<phase>
            cfg = dataclasses.replace(cfg, log_dir=str(Path(cfg.log_dir) / names[phase]))
        return train(module, obj, data, config=cfg, checkpoint_dir=where, resume=resume,
                     signature=sig, **kw)

    inputs = torch.as_tensor(X, dtype=torch.float32, device=device)
    for layer in range(n_layers):
        n_in = inputs.shape[1]
        # The first shallow AE reconstructs pixels with the model's output activation; inner
        # ones reconstruct hidden codes: sigmoid codes stay sigmoid, anything else is linear.
        out_act = c.output_activation if layer == 0 else (
            "sigmoid" if acts[layer - 1] == "sigmoid" else "linear")
        shallow_cfg = ModelConfig(n_features=n_in, hidden=(), code_size=sizes[layer],
                                  activation=acts[layer], code_activation=acts[layer],
                                  output_activation=out_act, tied=c.tied)
        shallow = build_model(shallow_cfg, seed=pre.seed + layer).to(device)
        shallow_obj = _shallow_objective(objective, layer, n_layers, objective.reconstruction)
        log.info("greedy: layer %d/%d (%d -> %d)", layer + 1, n_layers, n_in, sizes[layer])
        results["layers"].append(run(layer, shallow, shallow_obj, inputs, pre))
        _copy_layer(model, shallow, layer, n_layers)
        shallow.eval()
        inputs = torch.cat([shallow.encode(inputs[i:i + 8192])
                            for i in range(0, len(inputs), 8192)]).detach()
    if fine_tune:
        results["fine_tune"] = run(n_layers, model, objective, X, config, X_val=X_val,
                                   callbacks=callbacks)
    return results


__all__ = ["greedy_layerwise", "phase_names", "TrainResult"]
