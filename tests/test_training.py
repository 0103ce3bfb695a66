"""The one training loop: steps, evaluation, resume, divergence, early stopping, greedy."""

from __future__ import annotations

import dataclasses
import json
import sys

import numpy as np
import pytest
import torch

from aekit.errors import ConfigError, TrainingError
from aekit.losses import Objective
from aekit.models import ModelConfig, build_model
from aekit.training import TrainConfig, evaluate, greedy_layerwise, train
from aekit.training import greedy as greedy_module
from aekit.training.checkpoint import CHECKPOINT_NAME, load_checkpoint

# Every test here runs torch on one thread (conftest.py: one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")

FAST = dict(epochs=1, batch_size=64, lr=1e-2, seed=0)


def state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_state(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_a_training_step_changes_every_weight_and_evaluation_changes_none(kind, make_model,
                                                                          model_batch):
    model = make_model(kind)
    X = model_batch(kind, 32)
    before = state(model)
    model.eval()
    evaluate(model, Objective(noise="gaussian", noise_level=0.2), X)
    assert not model.training  # evaluate() restores the mode it found
    model.train()
    evaluate(model, Objective(), X)
    assert model.training
    assert_same_state(before, state(model))
    train(model, Objective(), X, config=TrainConfig(**FAST))
    after = state(model)
    unchanged = [k for k in before if torch.equal(before[k], after[k])]
    assert not unchanged


def test_history_has_every_loss_term_per_epoch_and_validation(make_model, model_batch):
    X = model_batch("dense", 80)
    obj = Objective(noise="mask", noise_level=0.1, sparsity="l1", sparsity_weight=1e-3,
                    contractive=0.01)
    res = train(make_model("dense"), obj, X, config=TrainConfig(**{**FAST, "epochs": 3},
                                                                validation_fraction=0.25))
    assert [r["epoch"] for r in res.history] == [1, 2, 3]
    for r in res.history:
        assert {"loss", "recon", "mse", "l1", "contractive", "lr", "seconds"} <= set(r)
        # Validation is evaluation: no corruption and no contractive penalty.
        assert {"val_loss", "val_recon", "val_mse", "val_l1"} <= set(r)
        assert "val_contractive" not in r
    vae = train(make_model("vae-dense"), Objective(kl_warmup_epochs=2), X,
                X_val=model_batch("vae-dense", 20, 1), config=TrainConfig(**{**FAST, "epochs": 2}))
    assert {"recon", "kl", "val_recon", "val_kl"} <= set(vae.history[-1])


def test_seed_makes_training_reproducible(make_model, model_batch):
    X = model_batch("vae-dense", 64)
    obj = Objective(noise="gaussian", noise_level=0.1)
    runs = []
    for seed in (0, 0, 1):
        m = make_model("vae-dense")
        train(m, obj, X, config=TrainConfig(**{**FAST, "epochs": 2, "seed": seed}))
        runs.append(state(m))
    assert_same_state(runs[0], runs[1])
    assert any(not torch.equal(runs[0][k], runs[2][k]) for k in runs[0])


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_optimizers_and_cosine_schedule(optimizer, make_model, model_batch):
    X = model_batch("dense", 64)
    res = train(make_model("dense"), Objective(), X,
                config=TrainConfig(epochs=4, batch_size=16, optimizer=optimizer, lr=0.05,
                                   lr_schedule="cosine"))
    lrs = [r["lr"] for r in res.history]
    assert lrs[0] == 0.05 and all(a > b for a, b in zip(lrs, lrs[1:]))


def test_gradient_clipping_bounds_the_update(make_model, model_batch):
    model = make_model("dense")
    X = model_batch("dense", 16) * 50  # large gradients
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    train(model, Objective(), X, config=TrainConfig(epochs=1, batch_size=16, optimizer="sgd",
                                                     momentum=0.0, lr=1.0, grad_clip=1e-3))
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    step = (after - before).norm().item()
    assert 0 < step <= 1e-3 * 1.0001  # ||lr * clipped gradient|| <= lr * max_norm


# --- resume ---------------------------------------------------------------------------------
class Interrupt(Exception):
    pass


def interrupt_after(k):
    """A crash once k epochs are done, all of their events (the checkpoint, which comes
    last, included): as a kill between epochs."""
    from aekit.training.callbacks import Callback

    class Crash(Callback):
        def on_epoch_begin(self, trainer, epoch):
            if epoch == k:
                raise Interrupt

    return Crash()


@pytest.mark.parametrize("kind, objective, extra", [
    ("dense", Objective(noise="gaussian", noise_level=0.2), dict(lr_schedule="cosine")),
    ("vae-dense", Objective(kl_warmup_epochs=3), dict(validation_fraction=0.2,
                                                       early_stopping=10)),
    ("tied", Objective(sparsity="l1", sparsity_weight=0.01),
     dict(optimizer="sgd", lr_schedule="plateau", grad_clip=1.0)),
])
def test_resume_after_a_kill_equals_the_uninterrupted_run(tmp_path, kind, objective, extra,
                                                          make_model, model_batch):
    X = model_batch(kind, 40)
    cfg = TrainConfig(epochs=5, batch_size=16, lr=1e-2, seed=3, **extra)
    full = make_model(kind)
    full_res = train(full, objective, X, config=cfg)

    killed = make_model(kind)
    with pytest.raises(Interrupt):
        train(killed, objective, X, config=cfg, checkpoint_dir=tmp_path,
              callbacks=[interrupt_after(2)])
    assert load_checkpoint(tmp_path)["epoch"] == 2
    resumed = make_model(kind, seed=99)  # a fresh process would start from other weights
    res = train(resumed, objective, X, config=cfg, checkpoint_dir=tmp_path, resume=True)
    assert_same_state(state(full), state(resumed))

    def strip(h):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in h]

    assert strip(res.history) == strip(full_res.history)
    assert res.best_epoch == full_res.best_epoch
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT_NAME]  # no temp files left


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path, make_model, model_batch):
    X = model_batch("dense", 20)
    cfg = TrainConfig(**FAST)
    train(make_model("dense"), Objective(), X, config=cfg, checkpoint_dir=tmp_path,
          signature={"model": "a"})
    with pytest.raises(ConfigError, match="different run"):
        train(make_model("dense"), Objective(), X, config=cfg, checkpoint_dir=tmp_path,
              resume=True, signature={"model": "b"})


# --- divergence, early stopping ---------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [8, 64])
def test_divergence_raises_naming_the_epoch_and_keeps_finite_weights(batch_size):
    # batch_size 64 > n: one step per epoch, so the NaN/Inf first shows in the weights.
    model = build_model(ModelConfig(n_features=10, hidden=(8,), code_size=2,
                                    output_activation="linear"), seed=0)
    X = torch.rand(32, 10) * 1000
    with pytest.raises(TrainingError, match=r"diverged.*epoch \d") as info:
        train(model, Objective(), X, config=TrainConfig(epochs=5, batch_size=batch_size,
                                                         optimizer="sgd", lr=1e36))
    assert info.value.epoch >= 1
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_divergence_restores_the_best_epoch(monkeypatch, make_model, model_batch):
    model = make_model("dense")
    X = model_batch("dense", 32)
    kept = {}

    def sabotage(record, m):
        if record["epoch"] == 2:
            kept.update(state(m))
            with torch.no_grad():
                m.encoder.layers[0].weight.fill_(float("nan"))

    with pytest.raises(TrainingError, match="epoch 3") as info:
        train(model, Objective(), X, config=TrainConfig(**{**FAST, "epochs": 5}),
              callbacks=[sabotage])
    assert "epoch 2" in str(info.value)  # names the restored epoch too
    assert_same_state(kept, state(model))


def test_early_stopping_restores_the_best_weights(make_model, model_batch):
    model = make_model("dense")
    X, X_val = model_batch("dense", 64), model_batch("dense", 32, 1)
    best = {}

    def spoil_after_epoch_3(record, m):
        if record["epoch"] == 3:
            best.update(state(m))
        if record["epoch"] >= 3:  # every later epoch starts from ruined weights
            with torch.no_grad():
                for p in m.parameters():
                    p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(0)))

    res = train(model, Objective(), X, X_val=X_val, callbacks=[spoil_after_epoch_3],
                config=TrainConfig(epochs=20, batch_size=16, lr=1e-3, early_stopping=2))
    assert res.stopped_early and len(res.history) == 5
    assert res.best_epoch == 3
    assert_same_state(best, state(model))


def test_train_config_refuses_bad_values():
    for bad in (dict(epochs=-1), dict(batch_size=0), dict(optimizer="lbfgs"),
                dict(lr=float("inf")), dict(lr_schedule="step"), dict(validation_fraction=1.0),
                dict(early_stopping=0), dict(grad_clip=0)):
        with pytest.raises(ConfigError):
            TrainConfig(**bad)


# --- greedy layer-wise --------------------------------------------------------------------------
@pytest.mark.parametrize("tied", [False, True])
def test_greedy_layerwise_copies_each_shallow_autoencoder_into_its_layers(monkeypatch, tied,
                                                                          model_batch):
    shallow_models = []
    real_train = greedy_module.train

    def spy(model, *args, **kwargs):
        shallow_models.append(model)
        return real_train(model, *args, **kwargs)

    monkeypatch.setattr(greedy_module, "train", spy)
    model = build_model(ModelConfig(n_features=12, hidden=(8, 6), code_size=3, tied=tied), seed=0)
    X = model_batch("dense", 48)
    res = greedy_layerwise(model, Objective(), X, config=TrainConfig(**FAST), fine_tune=False)
    assert len(res["layers"]) == 3 and res["fine_tune"] is None
    assert [s.config.n_features for s in shallow_models] == [12, 8, 6]
    assert [s.code_size for s in shallow_models] == [8, 6, 3]
    n = 3
    for layer, shallow in enumerate(shallow_models):
        enc = model.encoder.layers[layer]
        assert torch.equal(enc.weight, shallow.encoder.layers[0].weight)
        assert torch.equal(enc.bias, shallow.encoder.layers[0].bias)
        mirror = n - 1 - layer  # decoder layer N-l+1 undoes encoder layer l
        if tied:
            assert torch.equal(model.decoder.biases[mirror], shallow.decoder.biases[0])
        else:
            dec = model.decoder.layers[mirror]
            assert torch.equal(dec.weight, shallow.decoder.layers[0].weight)
            assert torch.equal(dec.bias, shallow.decoder.layers[0].bias)
    # The first shallow AE reconstructs pixels with the model's output activation.
    assert shallow_models[0].config.output_activation == "sigmoid"
    assert shallow_models[1].config.output_activation == "linear"


def test_greedy_layerwise_then_fine_tune_runs_and_refuses_other_models(make_model, model_batch):
    model = build_model(ModelConfig(n_features=12, hidden=(8,), code_size=3), seed=0)
    X = model_batch("dense", 48)
    res = greedy_layerwise(model, Objective(noise="mask", noise_level=0.1), X,
                           config=TrainConfig(**{**FAST, "epochs": 2}), pretrain_epochs=1)
    assert [len(r.history) for r in res["layers"]] == [1, 1]
    assert len(res["fine_tune"].history) == 2
    with pytest.raises(ConfigError, match="dense"):
        greedy_layerwise(make_model("vae-dense"), Objective(), X, config=TrainConfig(**FAST))


# --- quality on tiny real data (digits) ---------------------------------------------------------
def _digits():
    from aekit.datasets import load

    return np.asarray(load("digits").X, dtype=np.float32)  # (n, 64) in [0, 1]


def _pca_mse(X, k):
    from sklearn.decomposition import PCA

    p = PCA(k).fit(X)
    return float(np.mean((p.inverse_transform(p.transform(X)) - X) ** 2))


@pytest.mark.slow
def test_linear_autoencoder_reaches_pca_error_on_digits():
    X, k = _digits(), 8
    model = build_model(ModelConfig(n_features=64, hidden=(), code_size=k, activation="linear",
                                    output_activation="linear"), seed=0)
    train(model, Objective(), X, config=TrainConfig(epochs=50, batch_size=64, lr=1e-2,
                                                    lr_schedule="cosine"))
    mse = evaluate(model, Objective(), X)["mse"]
    pca = _pca_mse(X, k)
    assert pca <= mse * 1.001  # PCA is optimal among rank-k linear maps
    assert mse <= 1.05 * pca


@pytest.mark.slow
def test_stacked_autoencoder_beats_pca_at_the_same_code_size_on_digits():
    X, k = _digits(), 8
    model = build_model(ModelConfig(n_features=64, hidden=(48,), code_size=k,
                                    code_activation="linear"), seed=0)
    train(model, Objective(), X, config=TrainConfig(epochs=30, batch_size=64, lr=5e-3,
                                                    lr_schedule="cosine"))
    assert evaluate(model, Objective(), X)["mse"] < 0.8 * _pca_mse(X, k)


def test_train_config_replace_keeps_validation():
    with pytest.raises(ConfigError):
        dataclasses.replace(TrainConfig(), batch_size=0)


@pytest.mark.slow
def test_quality_benchmark_quick_runs_end_to_end(tmp_path, monkeypatch):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "quality.py"
    spec = importlib.util.spec_from_file_location("aekit_quality_benchmark", script)
    quality = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, quality)  # dataclasses look the module up
    spec.loader.exec_module(quality)
    assert quality.main(["--quick", "--threads", "1", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "quality.json").read_text())
    assert report["meta"]["quick"] and report["meta"]["n_train"] == 1000
    assert {r["group"] for r in report["models"]} == set(quality.GROUPS)
    assert {f["group"] for f in report["floors"]} == set(quality.GROUPS)
    assert all(np.isfinite(r["test_mse"]) for r in report["models"])
    assert "| floor |" in (tmp_path / "quality.md").read_text()
    # --only reruns one group and keeps the others' rows.
    assert quality.main(["--quick", "--threads", "1", "--out", str(tmp_path),
                         "--only", "stacked"]) == 0
    again = json.loads((tmp_path / "quality.json").read_text())
    assert {r["group"] for r in again["models"]} == set(quality.GROUPS)


@pytest.mark.parametrize("optimizer,schedule", [("adam", "cosine"), ("adamw", None)])
def test_the_direct_fused_adam_step_equals_optimizer_step_bit_for_bit(monkeypatch, optimizer,
                                                                      schedule):
    from aekit.training import trainer

    X = torch.rand(150, 12, generator=torch.Generator().manual_seed(0))
    config = TrainConfig(epochs=3, batch_size=32, optimizer=optimizer, weight_decay=0.01,
                         lr_schedule=schedule, restore_best=False)
    runs = []
    for direct in (True, False):
        if not direct:  # the reference: torch's own Optimizer.step every time
            monkeypatch.setattr(trainer._FusedAdamStep, "__call__",
                                lambda self: self.optimizer.step())
        model = build_model(ModelConfig(12, hidden=(8,), code_size=3), seed=0)
        history = train(model, Objective(), X, config=config).history
        runs.append((state(model), [r["loss"] for r in history]))
    assert_same_state(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    stepper = trainer._FusedAdamStep(torch.optim.Adam(model.parameters(), fused=True))
    assert stepper.usable  # the fast path really ran above, not the fallback
