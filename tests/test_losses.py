"""Loss terms checked against independent computations; corruption; the composed objective."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aekit.errors import ConfigError
from aekit.losses import (
    Objective,
    contractive_penalty,
    corrupt,
    negative_log_likelihood,
    sparsity_kl,
)
from aekit.models import ModelConfig, build_model, kl_to_standard_normal
from aekit.training import evaluate

# Every test here runs torch on one thread (conftest.py: one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2)


@pytest.mark.parametrize("mu, logvar", [(0.0, 0.0), (1.3, -0.7), (-2.0, 1.1), (0.4, -3.0)])
def test_closed_form_kl_equals_numeric_integration(mu, logvar):
    # KL(q || p) = integral q(z) log(q(z) / p(z)) dz, q = N(mu, s^2), p = N(0, 1), on a grid.
    s = math.exp(0.5 * logvar)
    z = np.linspace(mu - 12 * s, mu + 12 * s, 200_001)
    log_q = -0.5 * ((z - mu) / s) ** 2 - math.log(s * math.sqrt(2 * math.pi))
    log_p = -0.5 * z**2 - 0.5 * math.log(2 * math.pi)
    numeric = _trapezoid(np.exp(log_q) * (log_q - log_p), z)
    closed = kl_to_standard_normal(torch.tensor([[mu]], dtype=torch.float64),
                                   torch.tensor([[logvar]], dtype=torch.float64))
    assert closed.shape == (1, 1)
    assert closed.item() == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_kl_is_per_dimension_and_zero_only_at_the_prior():
    mu = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, 0.0], [0.0, 1.0]])
    kl = kl_to_standard_normal(mu, logvar)
    assert kl.shape == (2, 2)
    assert kl[0, 0] == 0 and kl[1, 0] == 0
    assert kl[0, 1].item() == pytest.approx(0.5)  # mu^2 / 2
    assert kl[1, 1].item() == pytest.approx(0.5 * (math.e - 1 - 1))  # (s^2 - 1 - log s^2) / 2


def test_sparsity_kl_matches_direct_computation():
    g = torch.Generator().manual_seed(0)
    code = torch.sigmoid(torch.randn(64, 7, generator=g, dtype=torch.float64) * 2)
    rho = 0.05
    expected = 0.0
    for j in range(7):  # sum_j rho log(rho / rho_hat_j) + (1 - rho) log((1 - rho) / (1 - rho_hat_j))
        rho_hat = float(np.mean(code[:, j].numpy()))
        expected += rho * math.log(rho / rho_hat) + (1 - rho) * math.log((1 - rho) / (1 - rho_hat))
    assert sparsity_kl(code, rho).item() == pytest.approx(expected, rel=1e-10)
    # Zero exactly when every unit's mean activation is the target.
    assert sparsity_kl(torch.full((10, 3), rho, dtype=torch.float64), rho).item() == \
        pytest.approx(0, abs=1e-12)


def test_contractive_estimator_expectation_is_the_jacobian_frobenius_norm():
    torch.manual_seed(0)
    model = build_model(ModelConfig(n_features=5, hidden=(4,), code_size=3, activation="tanh",
                                    code_activation="sigmoid"), seed=0).double()
    x = torch.rand(6, 5, dtype=torch.float64)
    exact = 0.0
    for xi in x:  # ||J(x_i)||_F^2 with J = d code / d x, shape (3, 5)
        jac = torch.autograd.functional.jacobian(lambda v: model.encode(v[None])[0], xi)
        assert jac.shape == (3, 5)
        exact += jac.pow(2).sum().item() / len(x)
    estimate = contractive_penalty(model, x, torch.Generator().manual_seed(1), n_projections=4000)
    assert estimate.item() == pytest.approx(exact, rel=0.05)
    # It is differentiable w.r.t. the weights (it is a training penalty).
    estimate.backward()
    assert model.encoder.layers[0].weight.grad is not None


# --- corruption ---------------------------------------------------------------------------------
def test_gaussian_noise_level_and_clipping():
    x = torch.full((200, 100), 0.5)
    g = torch.Generator().manual_seed(0)
    noisy = corrupt(x, "gaussian", 0.1, g)
    assert (noisy - x).std().item() == pytest.approx(0.1, rel=0.03)  # rarely clipped at 0.5
    heavy = corrupt(x, "gaussian", 2.0, g)
    assert heavy.min() == 0 and heavy.max() == 1  # clipped to [0, 1]
    assert torch.equal(x, torch.full((200, 100), 0.5))  # input untouched
    unclipped = corrupt(x, "gaussian", 2.0, g, clip=False)
    assert unclipped.min() < 0 and unclipped.max() > 1


def test_masking_noise_rate():
    x = torch.rand(300, 100) * 0.9 + 0.1  # no zeros before masking
    noisy = corrupt(x, "mask", 0.3, torch.Generator().manual_seed(0))
    zeroed = noisy == 0
    assert zeroed.float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert torch.equal(noisy[~zeroed], x[~zeroed])  # survivors unchanged (no rescaling)


def test_salt_and_pepper_rate_and_values():
    x = torch.full((300, 100), 0.5)
    noisy = corrupt(x, "salt_pepper", 0.2, torch.Generator().manual_seed(0))
    hit = noisy != 0.5
    assert hit.float().mean().item() == pytest.approx(0.2, abs=0.01)
    assert set(noisy[hit].unique().tolist()) == {0.0, 1.0}
    assert (noisy[hit] == 1).float().mean().item() == pytest.approx(0.5, abs=0.03)


def test_corruption_is_reproducible_from_the_generator():
    x = torch.rand(10, 10)
    for kind in ("gaussian", "mask", "salt_pepper"):
        a = corrupt(x, kind, 0.3, torch.Generator().manual_seed(4))
        b = corrupt(x, kind, 0.3, torch.Generator().manual_seed(4))
        assert torch.equal(a, b)


@pytest.mark.parametrize("noise", ["gaussian", "mask", "salt_pepper"])
def test_corruption_at_training_time_only(noise, make_model, model_batch):
    model = make_model("dense")
    x = model_batch("dense", 32)
    noisy_obj, clean_obj = Objective(noise=noise, noise_level=0.4), Objective()
    g = torch.Generator().manual_seed(0)
    model.eval()
    # train=True corrupts the input (the loss differs from the clean one)...
    assert noisy_obj(model, x, generator=g)["recon"] != clean_obj(model, x)["recon"]
    # ...train=False and evaluate() do not.
    assert noisy_obj(model, x, train=False)["recon"] == clean_obj(model, x, train=False)["recon"]
    assert evaluate(model, noisy_obj, x) == evaluate(model, clean_obj, x)


# --- likelihoods and the composed objective -----------------------------------------------------
def test_negative_log_likelihoods_match_torch_distributions():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 6, generator=g)
    logits = torch.randn(4, 6, generator=g)
    out = {"logits": logits, "recon": torch.sigmoid(logits)}
    p = torch.sigmoid(logits)
    expected = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(1)
    assert torch.allclose(negative_log_likelihood(out, x, "bernoulli", 1.0), expected, atol=1e-5)
    normal = torch.distributions.Normal(out["recon"], 0.3)
    expected = -normal.log_prob(x).sum(1)
    assert torch.allclose(negative_log_likelihood(out, x, "gaussian", 0.3), expected, atol=1e-5)


def test_vae_terms_are_nats_per_sample_and_beta_weights_the_kl(make_model, model_batch):
    model = make_model("vae-dense")
    x = model_batch("vae-dense", 8)
    terms = [Objective(beta=beta)(model, x, generator=torch.Generator().manual_seed(0))
             for beta in (1.0, 4.0)]
    for t in terms:
        assert {"loss", "recon", "kl", "mse"} <= set(t)
    assert torch.equal(terms[0]["kl"], terms[1]["kl"])
    assert terms[1]["loss"].item() == pytest.approx(
        terms[1]["recon"].item() + 4 * terms[1]["kl"].item(), rel=1e-6)
    mu, logvar = model.encode_distribution(x)
    assert terms[0]["kl"].item() == pytest.approx(
        kl_to_standard_normal(mu, logvar).sum(1).mean().item(), rel=1e-6)


def test_kl_warmup_ramps_beta_linearly():
    obj = Objective(beta=2.0, kl_warmup_epochs=4)
    assert [obj.kl_weight(e) for e in range(6)] == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    assert Objective(beta=2.0).kl_weight(0) == 2.0


def test_every_option_composes_with_every_architecture(kind, make_model, model_batch):
    model = make_model(kind)
    x = model_batch(kind, 6)
    obj = Objective(noise="mask", noise_level=0.2, sparsity="l1", sparsity_weight=0.1,
                    contractive=0.05)
    t = obj(model, x, generator=torch.Generator().manual_seed(0))
    expected = {"loss", "recon", "mse", "l1", "contractive"} | ({"kl"} if model.variational
                                                                 else set())
    assert set(t) == expected
    total = t["recon"] + 0.1 * t["l1"] + 0.05 * t["contractive"]
    if model.variational:
        total = total + t["kl"]
    assert t["loss"].item() == pytest.approx(total.item(), rel=1e-5)
    t["loss"].backward()
    t_kl = Objective(sparsity="kl", sparsity_weight=0.5, sparsity_target=0.1)(model, x)
    assert "sparsity_kl" in t_kl and torch.isfinite(t_kl["loss"])


def test_plain_reconstruction_terms_are_per_element_means(make_model, model_batch):
    model = make_model("dense")
    x = model_batch("dense", 4)
    out = model(x)
    mse = Objective()(model, x)["recon"]
    assert mse.item() == pytest.approx((out["recon"] - x).pow(2).mean().item(), rel=1e-6)
    bce = Objective(reconstruction="bce")(model, x)["recon"]
    p = out["recon"]
    assert bce.item() == pytest.approx(
        -(x * p.log() + (1 - x) * (1 - p).log()).mean().item(), rel=1e-5)


@pytest.mark.parametrize("bad, match", [
    (dict(reconstruction="l2"), "reconstruction"),
    (dict(noise="blur", noise_level=0.1), "noise"),
    (dict(noise="mask", noise_level=1.0), "probability"),
    (dict(noise_level=-1.0), "noise_level"),
    (dict(sparsity="l0"), "sparsity"),
    (dict(sparsity_target=1.5), "sparsity_target"),
    (dict(beta=float("nan")), "beta"),
    (dict(contractive=-1), "contractive"),
    (dict(likelihood="poisson"), "likelihood"),
    (dict(likelihood_scale=0), "likelihood_scale"),
    (dict(kl_warmup_epochs=-1), "kl_warmup_epochs"),
])
def test_objective_refuses_bad_options(bad, match):
    with pytest.raises(ConfigError, match=match):
        Objective(**bad)
