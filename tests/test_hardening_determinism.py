"""Divergence and determinism.

Divergence: when the loss becomes NaN/Inf, training stops with a TrainingError naming the
epoch and the fix, and the best weights so far stay in the model (library) or are saved as a
loadable model folder (CLI). Determinism: the same seed gives bit-identical weights on CPU,
for every model kind and with the random options (noise, VAE sampling, shuffling) on.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import aekit
from aekit import TrainingError
from aekit.cli import main
from aekit.datasets import load
from aekit.estimators import ConvAutoencoder, StackedAutoencoder, VariationalAutoencoder
from aekit.fitted import files as model_files
from aekit.losses import Objective
from aekit.models import ModelConfig, build_model
from aekit.training import TrainConfig, train

X = load("digits").X[:300]  # (300, 64) in [0, 1]
DIVERGES = dict(output_activation="linear", optimizer="sgd", learning_rate=1e3)


def _finite(module) -> bool:
    return all(torch.isfinite(p).all() for p in module.state_dict().values())


def test_divergence_keeps_the_best_epoch_and_names_the_epoch_and_fix(tmp_path):
    model = build_model(ModelConfig(64, hidden=(16,), code_size=4), seed=0)
    snapshots = {}

    def blow_up_after_epoch_2(record, module):
        snapshots[record["epoch"]] = {k: v.clone() for k, v in module.state_dict().items()}
        if record["epoch"] == 2:
            with torch.no_grad():
                for p in module.parameters():
                    p.mul_(1e30)  # the next forward pass overflows to Inf/NaN

    config = TrainConfig(epochs=5, batch_size=64, lr=1e-2, seed=0)
    with pytest.raises(TrainingError) as info:
        train(model, Objective(), torch.tensor(X), config=config,
              callbacks=[blow_up_after_epoch_2], checkpoint_dir=tmp_path / "ckpt")
    message = str(info.value)
    assert re.search(r"the loss became (nan|inf) in epoch 3", message), message
    assert "Lower the learning rate (lr=0.01) or set grad_clip" in message
    assert info.value.epoch == 3 and len(info.value.history) == 2
    best = min((1, 2), key=lambda e: info.value.history[e - 1]["loss"])
    assert f"the weights of epoch {best} (the best so far) were restored" in message
    for k, v in model.state_dict().items():
        assert torch.equal(v, snapshots[best][k])
    loaded = aekit.load(model_files.save(tmp_path / "best", model))
    assert _finite(loaded.module)


def test_absurd_learning_rate_stops_the_estimator_with_finite_loadable_weights(tmp_path):
    est = StackedAutoencoder(4, hidden_layer_sizes=(16,), epochs=5, batch_size=32,
                             random_state=0, **DIVERGES)
    with pytest.raises(TrainingError, match=r"diverged: the loss became (nan|inf) in epoch \d+.*"
                                             r"Lower the learning rate \(lr=1000\)"):
        est.fit(X)
    assert _finite(est.module_)
    loaded = aekit.load(est.save(tmp_path / "best"))
    assert np.isfinite(loaded.transform(X)).all()


def _cli_diverging(out, *extra) -> tuple[int, str]:
    return main(["train", "--model", "stacked", "--data", "digits", "--epochs", "3",
                 "--hidden-layer-sizes", "32", "--n-components", "4", "--random-state", "0",
                 "--no-report", "--out", str(out), "--output-activation", "linear",
                 "--optimizer", "sgd", "--learning-rate", "1e3", "--batch-size", "256",
                 "--lr-schedule", "none", "--warmup-epochs", "0", "--code-activation", "relu",
                 "--activation", "relu", "--weight-decay", "0", *extra])


def test_absurd_learning_rate_in_the_cli_saves_the_best_weights(tmp_path, capsys):
    out = tmp_path / "run"
    code = _cli_diverging(out)  # batch 256: epoch 1 trains, epoch 2 overflows (seed 0, CPU)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert re.search(r"aekit train: error: training diverged: .* in epoch 2", err), err
    assert "Lower the learning rate" in err and f"saved in {out / 'model'}" in err
    est = aekit.load(out / "model")
    assert _finite(est.module_) and np.isfinite(est.transform(X)).all()


def test_cli_divergence_in_the_first_epoch_leaves_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    code = _cli_diverging(out, "--batch-size", "32")  # overflows within epoch 1
    err = capsys.readouterr().err.strip()
    assert code == 2 and re.search(r"in epoch 1, step \d+; the weights from before", err), err
    assert not out.exists()


KINDS = {
    "stacked-denoising": lambda seed: StackedAutoencoder(
        4, hidden_layer_sizes=(16,), noise="gaussian", noise_level=0.2, epochs=3, batch_size=32,
        validation_fraction=0.2, sampler="gaussian", random_state=seed),
    "vae": lambda seed: VariationalAutoencoder(
        2, hidden_layer_sizes=(16,), epochs=3, batch_size=32, random_state=seed),
    "conv": lambda seed: ConvAutoencoder(
        n_components=4, channels=(4,), image_shape=(8, 8), epochs=2, batch_size=32,
        sampler="gaussian", random_state=seed),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_same_seed_gives_bit_identical_weights(kind):
    a, b, other = (KINDS[kind](seed).fit(X) for seed in (0, 0, 1))
    state_a, state_b = a.module_.state_dict(), b.module_.state_dict()
    assert state_a.keys() == state_b.keys()
    for k in state_a:
        assert torch.equal(state_a[k], state_b[k]), f"{kind}: {k} differs between runs"
    assert a.history_[-1]["loss"] == b.history_[-1]["loss"]
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    # Control: another seed gives other weights, so equality above is not vacuous.
    assert any(not torch.equal(v, other.module_.state_dict()[k]) for k, v in state_a.items())
