"""Issue 31, item 3: the VampPrior (VariationalAutoencoder(prior='vamp')), a mixture of the
encoder's posteriors at learned pseudo-inputs, through the module, the objective, the
fitted model (sample, score_samples, the importance-sampled likelihood, the latent grid),
saved folders, resume, ONNX export of the decoder, aekit train / evaluate / generate."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import aekit
from aekit.errors import ConfigError
from aekit.losses import Objective
from aekit.models import ModelConfig, build_model
from aekit.models.priors import log_mixture, log_normal


@pytest.fixture(scope="module")
def digits():
    from aekit.datasets import load

    return load("digits").X[:300]


@pytest.fixture(scope="module")
def fitted_vamp(digits):
    return aekit.VariationalAutoencoder(2, hidden_layer_sizes=(16,), prior="vamp",
                                        n_pseudo_inputs=12, epochs=3,
                                        random_state=0).fit(digits)


def _vamp(k=2, pseudo=7, seed=0):
    return build_model(ModelConfig(64, hidden=(16,), code_size=k, variational=True,
                                   output_activation="sigmoid", prior="vamp",
                                   n_pseudo_inputs=pseudo), seed=seed)


def test_the_mixture_density_is_the_average_of_its_components():
    """log p(z) by two matrix products equals the brute-force (N, K, d) average."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(5, 3, 4, generator=g, dtype=torch.float64)
    mus = torch.randn(6, 4, generator=g, dtype=torch.float64)
    logvars = torch.randn(6, 4, generator=g, dtype=torch.float64) * 0.5
    brute = torch.logsumexp(log_normal(z[..., None, :], mus, logvars), dim=-1) - math.log(6)
    torch.testing.assert_close(log_mixture(z, mus, logvars), brute, rtol=1e-12, atol=1e-12)


def test_the_prior_is_the_encoders_posteriors_at_its_pseudo_inputs():
    model = _vamp()
    u = model.prior.inputs().detach()
    assert u.shape == (7, 64) and float(u.min()) >= 0 and float(u.max()) <= 1
    mus, logvars = model.prior.components(model)
    expected = model.encode_distribution(u)
    assert torch.equal(mus, expected[0]) and torch.equal(logvars, expected[1])
    z = torch.randn(9, 2, dtype=torch.float32)
    torch.testing.assert_close(model.log_prior(z), log_mixture(z, mus, logvars))
    # its KL term is log q(z|x) - log p(z) at the ELBO's sample, and it trains the inputs
    x = torch.rand(4, 64)
    out = model(x, generator=torch.Generator().manual_seed(0))
    kl = model.kl_to_prior(out["mu"], out["logvar"], out["code"])
    torch.testing.assert_close(kl, log_normal(out["code"], out["mu"], out["logvar"])
                               - model.log_prior(out["code"]))
    Objective()(model, x, generator=torch.Generator().manual_seed(0))["loss"].backward()
    assert model.prior.pseudo_inputs.grad.abs().sum() > 0


def test_the_standard_prior_adds_no_weights_and_keeps_every_number(digits):
    """A standard-prior VAE has the same parameters and config file as before the prior
    existed (the compat fixtures check old files' numbers)."""
    config = ModelConfig(64, hidden=(16,), code_size=2, variational=True)
    assert "prior" not in config.to_dict() and "n_pseudo_inputs" not in config.to_dict()
    model = build_model(config, seed=0)
    assert not [n for n, _ in model.named_parameters() if n.startswith("prior")]
    vamp = _vamp(pseudo=5)
    assert vamp.config.parameter_count() == \
        sum(p.numel() for p in vamp.parameters()) == \
        sum(p.numel() for p in model.parameters()) + 5 * 64
    # the other weights are drawn as without the prior (it is built last)
    plain = dict(model.named_parameters())
    for name, p in vamp.named_parameters():
        if not name.startswith("prior"):
            assert torch.equal(p, plain[name]), name


@pytest.mark.parametrize("kw, match", [
    (dict(prior="vamp", n_pseudo_inputs=0), "n_pseudo_inputs"),
    (dict(prior="gaussian-mixture"), "prior"),
    (dict(prior="vamp", n_pseudo_inputs=10**6), "n_pseudo_inputs"),
])
def test_bad_values_are_refused_before_any_work(kw, match):
    with pytest.raises(ConfigError, match=match):
        aekit.VariationalAutoencoder(**kw).fit(np.full((5, 4), np.nan))


def test_a_plain_autoencoder_has_no_prior_to_choose(tmp_path, capsys):
    with pytest.raises(ConfigError, match="plain autoencoder has none"):
        ModelConfig(64, hidden=(16,), code_size=2, prior="vamp", n_pseudo_inputs=3)
    with pytest.raises(TypeError):
        aekit.StackedAutoencoder(prior="vamp")
    from aekit.cli import main

    assert main(["train", "--model", "stacked", "--data", "digits", "--prior", "vamp",
                 "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "--prior" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()


def test_sampling_draws_from_the_mixture(fitted_vamp):
    """Codes come from the mixture: each is within a few sigma of some component's mean,
    and their mean is the components' mean."""
    fitted = fitted_vamp.fitted_
    with torch.no_grad():
        mus, logvars = (t.double().numpy() for t in fitted.module.prior.components(
            fitted.module))
    Z = fitted.sample_codes(4000, random_state=0).astype(np.float64)
    nearest = np.min(np.abs((Z[:, None, :] - mus) / np.exp(0.5 * logvars)).max(-1), axis=1)
    assert np.quantile(nearest, 0.99) < 4.5
    spread = np.sqrt((np.exp(logvars) + mus ** 2).mean(0) - mus.mean(0) ** 2)
    np.testing.assert_allclose(Z.mean(0), mus.mean(0), atol=4 * spread.max() / np.sqrt(4000))
    assert fitted_vamp.sample(3, random_state=1).shape == (3, 64)


def test_likelihoods_use_the_prior_and_order_as_bounds(fitted_vamp, digits):
    fitted = fitted_vamp.fitted_
    X = digits[:40]
    elbo = fitted.elbo(X, n_samples=200, random_state=0).mean()
    ll = fitted.log_likelihood(X, k=500, random_state=0).mean()
    assert elbo < ll, (elbo, ll)
    np.testing.assert_array_equal(fitted_vamp.score_samples(X), fitted.elbo(X))
    # the KL is the ELBO's own (same draws), and only a per-row one exists
    from aekit import evaluation as ev

    m = ev.vae_metrics(fitted_vamp, X, k=20, random_state=0)
    assert m["kl"] == pytest.approx(float(fitted.kl(X, random_state=0).mean()))
    assert m["recon_nll"] + m["kl"] == pytest.approx(-m["elbo"])
    with pytest.raises(ConfigError, match="VampPrior|vamp"):
        fitted.kl_per_dimension(X)
    assert sorted(ev.units_by_information(fitted_vamp, X)) == [0, 1]
    # the latent grid lays out the prior's own quantiles, not N(0, 1)'s
    images, Z = aekit.applications.latent_grid(fitted_vamp, n=5)
    draws = fitted.sample_codes(4096, random_state=0)
    assert Z[:, 0].min() == pytest.approx(np.quantile(draws[:, 0], 0.05), rel=1e-5)


def test_a_saved_folder_keeps_the_prior_and_gives_the_same_numbers(tmp_path, fitted_vamp,
                                                                  digits):
    fitted_vamp.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["model"]["prior"] == "vamp" and config["model"]["n_pseudo_inputs"] == 12
    back = aekit.load(tmp_path / "m")
    assert torch.equal(back.fitted_.module.prior.pseudo_inputs,
                       fitted_vamp.fitted_.module.prior.pseudo_inputs)
    for call in (lambda e: e.sample(6, random_state=3),
                 lambda e: e.score_samples(digits[:10]),
                 lambda e: e.fitted_.log_likelihood(digits[:10], k=30, random_state=0)):
        np.testing.assert_array_equal(call(back), call(fitted_vamp))


def test_the_decoder_exports_to_onnx(tmp_path, fitted_vamp):
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort

    path = fitted_vamp.export_onnx(tmp_path / "decoder.onnx", part="decoder")
    Z = fitted_vamp.fitted_.sample_codes(20, random_state=0)
    session = ort.InferenceSession(str(path))
    got = session.run(None, {session.get_inputs()[0].name: Z})[0]
    np.testing.assert_allclose(got, fitted_vamp.inverse_transform(Z), atol=1e-5)


def test_iwae_with_a_vamp_prior_trains(digits):
    est = aekit.VariationalAutoencoder(2, hidden_layer_sizes=(16,), prior="vamp",
                                       n_pseudo_inputs=5, importance_samples=4, epochs=2,
                                       random_state=0).fit(digits)
    assert math.isfinite(est.history_[-1]["loss"]) and math.isfinite(est.history_[-1]["kl"])


@pytest.mark.slow
def test_the_command_line_trains_evaluates_generates_and_resumes(tmp_path, capsys):
    from aekit.cli import main

    common = ["--model", "vae", "--data", "digits", "--max-rows", "200", "--prior", "vamp",
              "--n-pseudo-inputs", "8", "--hidden-layer-sizes", "16", "--lr-schedule",
              "none", "--random-state", "0", "--no-report"]
    full, part = tmp_path / "full", tmp_path / "part"
    assert main(["train", *common, "--epochs", "3", "--out", str(full)]) == 0
    assert main(["train", *common, "--epochs", "2", "--out", str(part)]) == 0
    assert main(["train", *common, "--epochs", "3", "--out", str(part), "--resume"]) == 0
    a = aekit.load(full)
    b = aekit.load(part)
    for p, q in zip(a.fitted_.module.parameters(), b.fitted_.module.parameters()):
        assert torch.equal(p, q)  # resumed bit-exactly, the pseudo-inputs included
    capsys.readouterr()
    assert main(["evaluate", str(full), "--data", "digits", "--max-rows", "60"]) == 0
    assert "log-likelihood" in capsys.readouterr().out.lower()
    assert main(["generate", str(full), "--n-samples", "4", "--seed", "2",
                 "--out", str(tmp_path / "gen.csv")]) == 0
    rows = np.loadtxt(tmp_path / "gen.csv", delimiter=",", ndmin=2)
    np.testing.assert_allclose(rows, a.sample(4, random_state=2), atol=1e-6)


def test_the_report_draws_the_vamp_models_grid_traversals_and_metrics(fitted_vamp, digits):
    from aekit.report import build_report

    r = build_report(fitted_vamp, digits[:200], digits[200:260], image_shape=(8, 8),
                     iw_samples=5)
    sections = {s.title: s for s in r.sections}
    for title in ("Generated samples", "Latent grid", "Latent traversals"):
        assert title in sections
    captions = [getattr(i, "caption", "") for i in sections["Latent grid"].items]
    assert any("VampPrior" in c for c in captions), captions
    vae = r.results["model"]
    assert vae["recon_nll"] + vae["kl"] == pytest.approx(-vae["elbo"])
    assert math.isfinite(vae["log_likelihood"]) and vae["iw_samples"] == 5
