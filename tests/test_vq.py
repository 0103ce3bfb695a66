"""Issue 31, item 4: the VQ-VAE (aekit.VQVAE; aekit.models.vq) through the module (the
quantiser's straight-through gradient, moving averages and dead-code restarts, the prior's
causal masks), the estimator (indices in, images out), saved folders, resume, ONNX export,
the evaluation, the report and the command line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import aekit
from aekit.errors import ConfigError, DataError
from aekit.models import VQConfig, build_model
from aekit.models.vq import VectorQuantizer

TINY = dict(channels=(4, 8), codebook_size=16, embedding_dim=4, prior_channels=8,
            prior_layers=1, epochs=3, prior_epochs=2, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def digits():
    from aekit.datasets import load

    return load("digits").X[:300]


@pytest.fixture(scope="module")
def fitted_vq(digits):
    return aekit.VQVAE(**TINY).fit(digits)


def _net(seed=0, **kw):
    return build_model(VQConfig(**{"n_features": 64, "image_shape": (1, 8, 8), "hidden": (4, 8),
                                   "codebook_size": 8, "embedding_dim": 3, "prior_channels": 8,
                                   "prior_layers": 1, **kw}), seed=seed)


# --- the module ------------------------------------------------------------------------------
def test_the_code_is_the_grid_of_nearest_codebook_vectors():
    net = _net().eval()
    x = torch.rand(5, 64)
    ze = net.encode_continuous(x)  # (5 * 2 * 2, 3)
    brute = torch.cdist(ze, net.quantizer.embedding).argmin(dim=1)
    assert torch.equal(net.encode(x).long().reshape(-1), brute)
    assert net.code_size == 4 and net.encode(x).shape == (5, 4)


def test_gradients_pass_the_quantiser_straight_through_to_the_encoder():
    net = _net().train()
    out = net(torch.rand(6, 64), generator=torch.Generator().manual_seed(0))
    out["recon"].sum().backward()
    assert net.encoder.convs[0].weight.grad.abs().sum() > 0  # through z_q = z_e + sg(e - z_e)
    assert not net.quantizer.embedding.requires_grad  # the codebook moves by averages only


def test_the_codebook_starts_at_encoder_outputs_and_follows_its_assignments():
    vq = VectorQuantizer(4, 2, decay=0.5)
    z = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0], [9.0, 0.0],
                      [9.0, 0.1], [0.0, 9.0], [0.1, 9.0]])
    g = torch.Generator().manual_seed(0)
    vq.update(z, vq.nearest(z), g)  # the first batch seeds the codebook
    assert all(any(torch.equal(e, r) for r in z) for e in vq.embedding)
    before = vq.embedding.clone()
    index = vq.nearest(z)
    vq.update(z, index, g)
    for k in index.unique():  # each used code moves towards the mean of its rows (up to
        mean = z[index == k].mean(0)  # the counts' Laplace smoothing, 1e-5 per code)
        assert torch.linalg.norm(vq.embedding[k] - mean) <= \
            torch.linalg.norm(before[k] - mean) + 1e-3


def test_a_dead_code_restarts_at_an_encoder_output():
    vq = VectorQuantizer(3, 2, decay=0.9)
    z = torch.rand(50, 2)
    g = torch.Generator().manual_seed(0)
    vq.update(z, vq.nearest(z), g)
    vq.embedding[2] = torch.tensor([100.0, 100.0])  # far from every row: never chosen
    vq.cluster_size[2] = 0.5  # and already below one row per batch
    vq.update(z, vq.nearest(z), g)
    assert any(torch.allclose(vq.embedding[2], r) for r in z)  # restarted at a batch row


def test_the_prior_sees_only_the_cells_before_each_cell():
    prior = _net().prior.eval()
    g = torch.Generator().manual_seed(0)
    rows = torch.randint(0, 8, (2, 4), generator=g).float()
    base = prior(rows)
    for i in range(4):
        changed = rows.clone()
        changed[:, i:] = (changed[:, i:] + 3) % 8  # change cell i and everything after it
        assert torch.equal(prior(changed)[:, :, :i + 1], base[:, :, :i + 1]), i
    logp = prior.log_prob(rows)
    manual = torch.log_softmax(base.double(), 1).gather(1, rows.long()[:, None]).sum((1, 2))
    torch.testing.assert_close(logp, manual)


@pytest.mark.parametrize("kw, match", [
    ({"decoder": "unpool"}, "unpool"), ({"codebook_size": 1}, "codebook_size"),
    ({"ema_decay": 1.0}, "ema_decay")])
def test_bad_configs_are_refused(kw, match):
    with pytest.raises(ConfigError, match=match):
        _net(**kw)


# --- the estimator ---------------------------------------------------------------------------
def test_transform_gives_index_grids_and_inverse_transform_decodes_them(fitted_vq, digits):
    Z = fitted_vq.transform(digits[:20])
    assert Z.dtype == np.int64 and Z.shape == (20, 4) and fitted_vq.grid_ == (2, 2)
    assert Z.min() >= 0 and Z.max() < 16
    np.testing.assert_array_equal(fitted_vq.inverse_transform(Z),
                                  fitted_vq.reconstruct(digits[:20]))
    # the same rows as (n, H, W) images give the same codes
    np.testing.assert_array_equal(fitted_vq.transform(digits[:20].reshape(20, 8, 8)), Z)
    from aekit import applications as app  # every entry point's codes: the same int64 grids

    np.testing.assert_array_equal(app.encode(fitted_vq, digits[:20]), Z)
    assert app.encode(fitted_vq, digits[:20]).dtype == np.int64


@pytest.mark.parametrize("bad", [0.5, -1, 16])
def test_values_that_are_not_indices_are_refused_by_row(fitted_vq, bad):
    Z = np.zeros((3, 4))
    Z[2, 1] = bad
    with pytest.raises(DataError, match="row 2"):
        fitted_vq.inverse_transform(Z)


def test_perplexity_is_reported_and_is_the_codes_usage(fitted_vq, digits):
    codes = fitted_vq.transform(digits)
    p = np.bincount(codes.ravel(), minlength=16) / codes.size
    expected = math.exp(-(p[p > 0] * np.log(p[p > 0])).sum())
    assert fitted_vq.perplexity_ == pytest.approx(expected)
    assert fitted_vq.perplexity(digits) == pytest.approx(expected)
    assert 1 <= fitted_vq.perplexity_ <= 16
    assert fitted_vq.history_[-1]["perplexity"] > 1 and len(fitted_vq.prior_history_) == 2


def test_training_lowers_the_error_and_the_prior_learns(digits):
    est = aekit.VQVAE(**{**TINY, "epochs": 8, "prior_epochs": 8}).fit(digits)
    assert est.history_[-1]["mse"] < est.history_[0]["mse"]
    assert est.prior_history_[-1]["loss"] < est.prior_history_[0]["loss"]
    # the prior's bits per grid fall below a uniform code's 4 * log2(16) = 16
    assert est.fitted_.prior_bits(digits).mean() < 16


def test_samples_come_from_the_prior_and_are_reproducible(fitted_vq):
    a, b = fitted_vq.sample(5, random_state=1), fitted_vq.sample(5, random_state=1)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (5, 64) and a.min() >= 0 and a.max() <= 1
    assert not np.array_equal(a, fitted_vq.sample(5, random_state=2))


def test_a_seed_gives_the_same_model(digits, fitted_vq):
    again = aekit.VQVAE(**TINY).fit(digits)
    for p, q in zip(again.fitted_.module.state_dict().values(),
                    fitted_vq.fitted_.module.state_dict().values()):
        assert torch.equal(p, q)


def test_partial_fit_trains_both_phases(digits):
    est = aekit.VQVAE(**TINY)
    est.partial_fit(digits).partial_fit(digits)
    assert len(est.history_) == 2 and len(est.prior_history_) == 2
    assert est.transform(digits[:3]).shape == (3, 4)


def test_a_saved_folder_gives_the_same_numbers(tmp_path, fitted_vq, digits):
    fitted_vq.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["model"]["network"] == "vqvae"
    back = aekit.load(tmp_path / "m")
    assert isinstance(back, aekit.VQVAE) and back.perplexity_ == fitted_vq.perplexity_
    for call in (lambda e: e.transform(digits[:30]), lambda e: e.sample(4, random_state=0),
                 lambda e: e.score_samples(digits[:30]),
                 lambda e: e.fitted_.prior_bits(digits[:30])):
        np.testing.assert_array_equal(call(back), call(fitted_vq))
    from aekit.fitted import FittedModel

    assert FittedModel.load(tmp_path / "m").codebook_size == 16


def test_codes_are_not_points_of_a_space(fitted_vq, digits):
    from aekit import applications as app

    with pytest.raises(ConfigError, match="codebook indices"):
        app.interpolate(fitted_vq, digits[0], digits[1])
    with pytest.raises(ConfigError, match="codebook indices"):
        app.latent_traversal(fitted_vq, digits[0])
    with pytest.raises(ConfigError, match="indices"):
        fitted_vq.fitted_.entropy_model()


@pytest.mark.parametrize("part", ["autoencoder", "encoder", "decoder"])
def test_every_part_exports_to_onnx(tmp_path, fitted_vq, digits, part):
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort

    path = fitted_vq.export_onnx(tmp_path / f"{part}.onnx", part=part)
    session = ort.InferenceSession(str(path))
    rows = fitted_vq.transform(digits[:20]).astype(np.float32) if part == "decoder" \
        else digits[:20].astype(np.float32)
    got = session.run(None, {session.get_inputs()[0].name: rows})[0]
    expected = {"autoencoder": lambda: fitted_vq.reconstruct(digits[:20]),
                "encoder": lambda: fitted_vq.transform(digits[:20]),
                "decoder": lambda: fitted_vq.inverse_transform(rows)}[part]()
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_evaluation_and_the_report_show_the_codebook(fitted_vq, digits):
    from aekit.evaluation import evaluate_model
    from aekit.report import build_report

    m = evaluate_model(fitted_vq, digits[200:])
    assert m["perplexity"] == pytest.approx(fitted_vq.perplexity(digits[200:]))
    assert m["code_bits"] == 16 and m["codebook_size"] == 16
    assert m["prior_bits"] == pytest.approx(fitted_vq.fitted_.prior_bits(digits[200:]).mean())
    r = build_report(fitted_vq, digits[:200], digits[200:260], image_shape=(8, 8))
    titles = [s.title for s in r.sections]
    assert "Codebook" in titles and "Generated samples" in titles
    assert "Interpolation and averaging" not in titles


def test_the_command_line_trains_evaluates_and_generates(tmp_path, capsys):
    from aekit.cli import main

    run = tmp_path / "run"
    common = ["--channels", "4,8", "--codebook-size", "16", "--embedding-dim", "4",
              "--prior-channels", "8", "--prior-layers", "1", "--random-state", "0"]
    assert main(["train", "--model", "vqvae", "--data", "digits", "--max-rows", "200",
                 "--epochs", "2", "--prior-epochs", "2", *common, "--out", str(run)]) == 0
    assert "perplexity" in capsys.readouterr().out.lower()
    assert (run / "report" / "index.html").exists()
    assert main(["evaluate", str(run), "--data", "digits", "--max-rows", "60"]) == 0
    assert "codebook perplexity" in capsys.readouterr().out
    assert main(["generate", str(run), "--n-samples", "3", "--seed", "1",
                 "--out", str(tmp_path / "g.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "g.npy"),
                                  aekit.load(run).sample(3, random_state=1))
    assert main(["interpolate", str(run), "--data", "digits", "--pair", "0", "1",
                 "--out", str(tmp_path / "i.png")]) == 2
    assert "codebook indices" in capsys.readouterr().err


def test_a_config_file_trains_the_model_its_flags_do(tmp_path):
    """examples/vqvae.toml's keys are VQVAE's keywords: the shipped file resolves, and a
    config file trains the very model the same flags do."""
    from aekit.cli import main
    from aekit.cli.options import read_config_file

    shipped = read_config_file(Path(__file__).resolve().parents[1] / "examples" / "vqvae.toml")
    assert shipped.pop("model") == "vqvae" and shipped.pop("data") == "fashion-mnist"
    shipped["channels"] = tuple(shipped["channels"])
    assert aekit.VQVAE(**shipped).validate_params().codebook_size == 128
    flags = ["--data", "digits", "--max-rows", "120", "--epochs", "1", "--prior-epochs", "1",
             "--channels", "4,8", "--codebook-size", "16", "--embedding-dim", "4",
             "--prior-channels", "8", "--prior-layers", "1", "--random-state", "0",
             "--no-report"]
    config = tmp_path / "vq.toml"
    config.write_text('model = "vqvae"\ndata = "digits"\nmax_rows = 120\nepochs = 1\n'
                      'prior_epochs = 1\nchannels = [4, 8]\ncodebook_size = 16\n'
                      'embedding_dim = 4\nprior_channels = 8\nprior_layers = 1\n'
                      'random_state = 0\n')
    assert main(["train", "--model", "vqvae", *flags, "--out", str(tmp_path / "a")]) == 0
    assert main(["train", "--config", str(config), "--no-report",
                 "--out", str(tmp_path / "b")]) == 0
    a, b = aekit.load(tmp_path / "a"), aekit.load(tmp_path / "b")
    for p, q in zip(a.fitted_.module.state_dict().values(),
                    b.fitted_.module.state_dict().values()):
        assert torch.equal(p, q)


@pytest.mark.slow
@pytest.mark.parametrize("pause_at", [1, 4], ids=["autoencoder-phase", "prior-phase"])
def test_sigkill_then_resume_is_bit_exact(tmp_path, pause_at, train_killed_at):
    """aekit train killed (SIGKILL) after a checkpoint of either phase (the 4th checkpoint
    is the prior's first, after 3 autoencoder epochs), then --resume: the final weights,
    codebook and prior included, equal an uninterrupted run's, bit for bit."""
    import os
    import subprocess
    import sys

    from safetensors.torch import load_file

    args = ["--model", "vqvae", "--data", "digits", "--max-rows", "200", "--epochs", "3",
            "--prior-epochs", "2", "--channels", "4,8", "--codebook-size", "16",
            "--embedding-dim", "4", "--prior-channels", "8", "--prior-layers", "1",
            "--random-state", "0", "--no-report"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def train(out, *extra):
        proc = subprocess.run([sys.executable, "-m", "aekit", "train", *args, "--out",
                               str(out), *extra], capture_output=True, text=True, env=env,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr

    ref, killed = tmp_path / "ref", tmp_path / "killed"
    train_killed_at(args, killed, pause_at, tmp_path / "flag")
    assert not (killed / "model").exists()
    train(ref)
    train(killed, "--resume")
    a, b = load_file(ref / "model" / "model.safetensors"), \
        load_file(killed / "model" / "model.safetensors")
    assert a.keys() == b.keys() and any("prior" in k for k in a)
    assert all(torch.equal(a[k], b[k]) for k in a)
