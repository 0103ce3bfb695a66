"""Issue 31, item 5: the beta-TCVAE (VariationalAutoencoder(tc_weight=...)), its KL term
split into index-code MI, total correlation and dimension-wise KL (Chen et al. 2018),
estimated by minibatch-weighted sampling; through the objective, the estimator, saved
folders and aekit train."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import aekit
from aekit.errors import ConfigError
from aekit.losses import Objective, kl_decomposition
from aekit.models import ModelConfig, build_model
from aekit.models.priors import log_normal


def _batch(m=12, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(m, d, generator=g, dtype=torch.float64)
    logvar = torch.randn(m, d, generator=g, dtype=torch.float64) * 0.3 - 1
    z = mu + torch.exp(0.5 * logvar) * torch.randn(m, d, generator=g, dtype=torch.float64)
    return z, mu, logvar


def test_the_three_parts_sum_to_the_kl_at_the_sample():
    z, mu, logvar = _batch()
    log_pz = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)
    mi, tc, dim_kl = kl_decomposition(z, mu, logvar, log_pz, n_data=1000)
    torch.testing.assert_close(mi + tc + dim_kl, log_normal(z, mu, logvar) - log_pz)


def test_the_estimates_are_minibatch_weighted_sums_over_the_pairs():
    """Brute force over the pairs of rows: log q(z_i) ~= log sum_j q(z_i|x_j) - log(N M),
    the same for each marginal q(z_id) (Chen et al. 2018, appendix C.1)."""
    z, mu, logvar = _batch(m=7)
    log_pz = torch.zeros(7, dtype=torch.float64)
    mi, tc, _ = kl_decomposition(z, mu, logvar, log_pz, n_data=100)
    norm = math.log(7 * 100)
    comp = torch.stack([log_normal(z, mu[j], logvar[j]) for j in range(7)], dim=1)  # (M, M)
    log_qz = torch.logsumexp(comp, dim=1) - norm
    marg = torch.stack([torch.stack([log_normal(z[:, d:d + 1], mu[j, d:d + 1],
                                                logvar[j, d:d + 1]) for j in range(7)], 1)
                        for d in range(3)], 2)  # (M, M, d)
    log_prod = (torch.logsumexp(marg, dim=1) - norm).sum(-1)
    torch.testing.assert_close(mi, log_normal(z, mu, logvar) - log_qz)
    torch.testing.assert_close(tc, log_qz - log_prod)


def test_tc_weight_one_is_the_elbo_and_other_weights_train_the_parts():
    model = build_model(ModelConfig(16, hidden=(8,), code_size=3, variational=True), seed=0)
    x = torch.rand(32, 16)
    plain = Objective()(model, x, generator=torch.Generator().manual_seed(0))
    same = Objective(tc_weight=1.0, dataset_size=500)(
        model, x, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(plain[k], same[k]) for k in plain)
    tc = Objective(tc_weight=6.0, dataset_size=500)(
        model, x, generator=torch.Generator().manual_seed(0))
    assert {"mi", "tc", "dim_kl"} <= set(tc)
    torch.testing.assert_close(tc["kl"], tc["mi"] + tc["tc"] + tc["dim_kl"])
    torch.testing.assert_close(tc["loss"], tc["recon"] + tc["mi"] + 6 * tc["tc"] + tc["dim_kl"])
    assert not Objective(tc_weight=6.0).shardable and Objective().shardable


@pytest.mark.parametrize("kw", [dict(tc_weight=4.0, beta=2.0),
                                dict(tc_weight=4.0, importance_samples=5),
                                dict(tc_weight=-1.0)])
def test_impossible_combinations_are_refused_before_any_work(kw):
    with pytest.raises(ConfigError, match="tc_weight"):
        aekit.VariationalAutoencoder(**kw).fit(np.full((5, 4), np.nan))


def test_the_estimator_uses_its_rows_as_n_and_keeps_it(tmp_path):
    from aekit.datasets import make_sprites

    s = make_sprites(300, size=16, random_state=0)
    est = aekit.VariationalAutoencoder(3, hidden_layer_sizes=(32,), tc_weight=5.0, epochs=2,
                                       random_state=0).fit(s.X)
    assert est.fitted_.objective.dataset_size == 300 and est.history_[-1]["tc"] is not None
    est.save(tmp_path / "m")
    back = aekit.load(tmp_path / "m")
    assert back.fitted_.objective.tc_weight == 5.0
    assert back.fitted_.objective.dataset_size == 300
    np.testing.assert_array_equal(back.score_samples(s.X[:5]), est.score_samples(s.X[:5]))
    from aekit.cli import main

    np.save(tmp_path / "sprites.npy", s.X)
    assert main(["train", "--model", "vae", "--data", str(tmp_path / "sprites.npy"),
                 "--tc-weight", "4", "--epochs", "1", "--hidden-layer-sizes", "16",
                 "--no-report", "--out", str(tmp_path / "run")]) == 0
    assert aekit.load(tmp_path / "run").fitted_.objective.tc_weight == 4.0


@pytest.mark.slow
def test_a_heavier_total_correlation_weight_lowers_the_total_correlation():
    from aekit.datasets import make_sprites

    s = make_sprites(2000, size=16, random_state=0)
    tcs = []
    for w in (1.0, 8.0):
        est = aekit.VariationalAutoencoder(6, hidden_layer_sizes=(64,), tc_weight=w,
                                           epochs=8, batch_size=128, random_state=0).fit(s.X)
        model, X = est.fitted_.module, torch.as_tensor(s.X[:512])
        with torch.no_grad():
            out = model(X, generator=torch.Generator().manual_seed(0))
            tcs.append(float(kl_decomposition(out["code"], out["mu"], out["logvar"],
                                              model.log_prior(out["code"]), 2000)[1].mean()))
    assert tcs[1] < tcs[0], tcs
