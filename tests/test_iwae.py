"""Issue 31, items 1-2: IWAE training (VariationalAutoencoder(importance_samples=k)) and
dynamic binarisation (binarize='dynamic'), through the objective, the estimator, saved
folders, aekit train and aekit evaluate."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import aekit
from aekit.errors import ConfigError
from aekit.losses import Objective, binarized
from aekit.models import ModelConfig, build_model


@pytest.fixture(scope="module")
def digits():
    from aekit.datasets import load

    return load("digits").X[:300]


def _vae(seed=0):
    return build_model(ModelConfig(64, hidden=(32,), code_size=2, variational=True,
                                   output_activation="sigmoid", code_activation="linear"),
                       seed=seed)


def _bound(objective, model, x, draws: int, seed: int = 0) -> float:
    """The mean over ``draws`` generator seeds of -loss (nats per row)."""
    with torch.no_grad():
        return float(np.mean([-objective(model, x, generator=torch.Generator().manual_seed(
            seed + i))["loss"].item() for i in range(draws)]))


def test_one_sample_is_the_elbo_and_more_samples_tighten_the_bound(digits):
    """k=1 is today's objective, term for term; the k-sample bound is above the ELBO and
    climbs towards log p(x) (the model's own importance-sampled estimate, k=1000)."""
    model = _vae()
    x = torch.as_tensor(digits[:64])
    g = torch.Generator().manual_seed(0)
    same = Objective(importance_samples=1)(model, x, generator=g)
    base = Objective()(model, x, generator=torch.Generator().manual_seed(0))
    assert same.keys() == base.keys()
    for k in base:
        assert torch.equal(same[k], base[k]), k
    elbo = _bound(Objective(), model, x, 40)
    iw5 = _bound(Objective(importance_samples=5), model, x, 40)
    iw50 = _bound(Objective(importance_samples=50), model, x, 10)
    from aekit.fitted import FittedAutoencoder

    log_px = float(FittedAutoencoder(model).log_likelihood(digits[:64], k=1000,
                                                           random_state=0).mean())
    assert elbo < iw5 < iw50 <= log_px + 0.5, (elbo, iw5, iw50, log_px)
    assert log_px - iw50 < 0.5 * (log_px - elbo)  # most of the gap is closed at k=50


def test_the_bound_trains_and_improves_the_likelihood(digits):
    """Trained with k=5 the model's importance-sampled log p(x) on held-out rows is at
    least the ELBO-trained one's (the paper's claim, on digits), for the same budget."""
    X_train, X_test = digits[:240], digits[240:]
    kw = dict(n_components=2, hidden_layer_sizes=(32,), epochs=40, batch_size=32,
              random_state=0)
    vae = aekit.VariationalAutoencoder(**kw).fit(X_train)
    iwae = aekit.VariationalAutoencoder(importance_samples=5, **kw).fit(X_train)
    assert "kl" in iwae.history_[-1] and iwae.history_[-1]["loss"] < iwae.history_[0]["loss"]
    ll = [float(m.fitted_.log_likelihood(X_test, k=200, random_state=0).mean())
          for m in (vae, iwae)]
    assert ll[1] > ll[0] - 0.5, ll


@pytest.mark.parametrize("kw, match", [
    (dict(importance_samples=5, beta=2.0), "beta=1"),
    (dict(importance_samples=5, kl_warmup_epochs=3), "kl_warmup_epochs=0"),
    (dict(importance_samples=0), "importance_samples"),
    (dict(binarize="dynamic", likelihood="gaussian"), "likelihood='bernoulli'"),
    (dict(binarize="static"), "binarize"),
])
def test_impossible_combinations_are_refused_before_any_work(kw, match):
    with pytest.raises(ConfigError, match=match):
        aekit.VariationalAutoencoder(**kw).fit(np.zeros((4, 3)))


def test_dynamic_binarisation_draws_new_binary_data_every_batch(digits):
    x = torch.as_tensor(digits[:200])
    a = binarized(x, torch.Generator().manual_seed(0))
    b = binarized(x, torch.Generator().manual_seed(1))
    assert set(a.unique().tolist()) <= {0.0, 1.0} and not torch.equal(a, b)
    assert abs(float(a.mean()) - float(x.mean())) < 0.02  # E[x_bin] = x
    seen = []

    class Spy(torch.nn.Module):  # records what the encoder is given
        def __init__(self, inner):
            super().__init__()
            self.inner, self.variational = inner, True

        def encode_distribution(self, x):
            seen.append(x.clone())
            return self.inner.encode_distribution(x)

        def __getattr__(self, name):
            try:
                return super().__getattr__(name)
            except AttributeError:
                return getattr(self.inner, name)

    spy = Spy(_vae())
    objective = Objective(binarize="dynamic", importance_samples=3)
    for i in range(2):
        objective(spy, x[:16], generator=torch.Generator().manual_seed(i))
    assert all(set(s.unique().tolist()) <= {0.0, 1.0} for s in seen)
    assert not torch.equal(seen[0], seen[1])


def test_evaluation_scores_one_fixed_draw_and_says_so(digits):
    from aekit.evaluation import evaluate_model

    est = aekit.VariationalAutoencoder(2, hidden_layer_sizes=(16,), epochs=2,
                                       binarize="dynamic", importance_samples=2,
                                       random_state=0).fit(digits[:200])
    one = evaluate_model(est, digits[200:260], iw_samples=20)
    two = evaluate_model(est, digits[200:260], iw_samples=20)
    assert one["binarization"].startswith("dynamic: one fixed draw")
    assert one["log_likelihood"] == two["log_likelihood"] and one["iw_samples"] == 20
    plain = aekit.VariationalAutoencoder(2, hidden_layer_sizes=(16,), epochs=2,
                                         random_state=0).fit(digits[:200])
    assert evaluate_model(plain, digits[200:260], iw_samples=5)["binarization"] == \
        "none (intensities)"


def test_saved_folder_keeps_both_options_and_gives_the_same_numbers(tmp_path, digits):
    est = aekit.VariationalAutoencoder(2, hidden_layer_sizes=(16,), epochs=2,
                                       binarize="dynamic", importance_samples=3,
                                       random_state=0).fit(digits)
    est.save(tmp_path / "m")
    back = aekit.load(tmp_path / "m")
    assert back.get_params()["importance_samples"] == 3
    assert back.get_params()["binarize"] == "dynamic"
    assert back.fitted_.objective.importance_samples == 3
    np.testing.assert_array_equal(back.transform(digits[:10]), est.transform(digits[:10]))
    np.testing.assert_array_equal(back.score_samples(digits[:10]),
                                  est.score_samples(digits[:10]))


def test_the_command_line_trains_and_evaluates_with_them(tmp_path, capsys):
    from aekit.cli import main

    out = tmp_path / "run"
    assert main(["train", "--model", "vae", "--data", "digits", "--max-rows", "300",
                 "--epochs", "2", "--importance-samples", "4", "--binarize", "dynamic",
                 "--hidden-layer-sizes", "16", "--no-report", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out), "--data", "digits", "--max-rows", "80"]) == 0
    text = capsys.readouterr().out
    assert "dynamic: one fixed draw" in text and "importance samples k" in text
    assert main(["train", "--model", "vae", "--data", "digits", "--importance-samples", "0",
                 "--out", str(tmp_path / "bad")]) == 2
    assert "importance_samples" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_iwae_steps_shard_like_every_other_row_mean(monkeypatch):
    """The bound is a mean over rows of per-row terms: a large step runs as shards, and
    the weights do not depend on the number of threads."""
    from aekit.training import TrainConfig, Trainer, threads

    monkeypatch.delenv(threads.ENV, raising=False)
    monkeypatch.setattr(threads, "TEAM_MIN_FLOPS", 1.0)
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    X = np.random.RandomState(0).rand(64, 64).astype(np.float32)
    runs = []
    for n in (1, 2):
        trainer = Trainer(_vae(), Objective(importance_samples=4),
                          TrainConfig(epochs=2, batch_size=32, seed=0, threads=n))
        trainer.fit(X)
        assert trainer.result.history[-1]["shards"] == 2
        runs.append([p.detach().clone() for p in trainer.model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*runs))
    assert math.isfinite(trainer.result.history[-1]["loss"])
