"""The closed-form dense step (aekit.training.dense_step) against autograd, and its fallback."""

from __future__ import annotations

import itertools

import pytest
import torch

from aekit.losses import Objective
from aekit.models import ModelConfig, build_model
from aekit.training import TrainConfig, dense_step, train
from aekit.training.threads import flushing_denormals as _flushing_denormals
from aekit.training.trainer import flush_denormals

# Every test here runs torch on one thread (conftest.py: one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")

COMBOS = list(itertools.product(
    ["relu", "tanh", "sigmoid", "linear", "elu", "selu"],  # hidden activation
    ["sigmoid", "linear"],  # output activation
    ["mse", "bce"],  # reconstruction
    [None, "l1", "kl"],  # sparsity
    [None, "mask", "gaussian"],  # input noise
))


def _autograd_terms_and_grads(model, objective, x, seed):
    for p in model.parameters():
        p.grad = None
    terms = objective(model, x, generator=torch.Generator().manual_seed(seed))
    terms["loss"].backward()
    return terms, [p.grad.clone() for p in model.parameters()]


def _assert_step_equals_autograd(act, out, loss, sparsity, noise, **model_kw):
    """One closed-form step against autograd: same terms (and keys), same gradients."""
    config = ModelConfig(20, code_size=5, activation=act, output_activation=out,
                         code_activation="sigmoid" if sparsity == "kl" else None, **model_kw)
    model = build_model(config, seed=1)
    objective = Objective(reconstruction=loss, sparsity=sparsity,
                          sparsity_weight=0.1 if sparsity else 0.0, noise=noise,
                          noise_level=0.2 if noise else 0.0)
    x = torch.rand(40, 20, generator=torch.Generator().manual_seed(2))
    step = dense_step.for_training(model, objective, TrainConfig())
    assert step is not None
    values = step.step(x, generator=torch.Generator().manual_seed(3))
    ours = [p.grad.clone() for p in model.parameters()]
    terms, ref = _autograd_terms_and_grads(model, objective, x, seed=3)
    assert step.keys == list(terms)
    assert values == pytest.approx([float(v.detach()) for v in terms.values()], rel=1e-5, abs=1e-7)
    assert len(ours) == len(ref) == len(list(model.parameters()))  # a tied weight once
    for name, a, b in zip(dict(model.named_parameters()), ours, ref):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6 * float(b.abs().max()) + 1e-9), name


@pytest.mark.parametrize("act,out,loss,sparsity,noise", COMBOS)
def test_terms_and_gradients_equal_autograd(act, out, loss, sparsity, noise):
    _assert_step_equals_autograd(act, out, loss, sparsity, noise, hidden=(12, 7))


@pytest.mark.parametrize("act,out,loss,sparsity", [
    ("relu", "sigmoid", "mse", None), ("tanh", "linear", "mse", "l1"),
    ("selu", "sigmoid", "bce", "kl"), ("linear", "linear", "mse", None)])
@pytest.mark.parametrize("hidden", [(), (12,), (12, 7)])
def test_tied_decoders_get_the_summed_gradient_of_both_uses(act, out, loss, sparsity, hidden):
    _assert_step_equals_autograd(act, out, loss, sparsity, "mask", hidden=hidden, tied=True)


def test_a_smaller_last_batch_and_a_larger_later_batch_reuse_the_buffers_correctly(make_model):
    model = make_model("dense")
    step = dense_step.for_training(model, Objective(), TrainConfig())
    for rows in (16, 5, 16, 33):  # shrink (views), regrow (new buffers)
        x = torch.rand(rows, 12, generator=torch.Generator().manual_seed(rows))
        buf = step.input_buffer(rows)
        buf.copy_(x)
        values = step.step(buf)
        ours = [p.grad.clone() for p in model.parameters()]
        terms, ref = _autograd_terms_and_grads(model, Objective(), x, seed=0)
        assert values[-1] == pytest.approx(float(terms["loss"].detach()), rel=1e-5)
        assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-7) for a, b in zip(ours, ref))


@pytest.mark.parametrize("kind", ["dense", "tied"])
def test_training_with_either_engine_gives_the_same_model(kind, make_model):
    x = torch.rand(300, 12, generator=torch.Generator().manual_seed(0))
    objective = Objective(noise="gaussian", noise_level=0.1, sparsity="l1",
                          sparsity_weight=1e-3)
    runs = {}
    for engine in ("auto", "autograd"):
        model = make_model(kind)
        config = TrainConfig(epochs=3, batch_size=32, lr=1e-2, engine=engine,
                             validation_fraction=0.2, grad_clip=1.0)
        history = train(model, objective, x, config=config).history
        runs[engine] = (model, history)
    (m1, h1), (m2, h2) = runs["auto"], runs["autograd"]
    assert [list(r) for r in h1] == [list(r) for r in h2]  # the same history keys
    for r1, r2 in zip(h1, h2):
        assert r1["loss"] == pytest.approx(r2["loss"], rel=1e-4)
        assert r1["val_loss"] == pytest.approx(r2["val_loss"], rel=1e-4)
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("case", ["vae-dense", "conv-transpose", "contractive",
                                  "hook", "tensor-hook", "forward-replaced", "engine",
                                  "distributed", "frozen"])
def test_everything_the_closed_form_does_not_cover_falls_back_to_autograd(case, make_model,
                                                                         model_kinds):
    kind = case if case in model_kinds else "dense"
    model, objective, config = make_model(kind), Objective(), TrainConfig()
    if case == "contractive":
        objective = Objective(contractive=0.1)
    elif case == "hook":
        model.decoder.layers[0].register_forward_hook(lambda *a: None)
    elif case == "tensor-hook":
        model.decoder.layers[-1].bias.register_hook(lambda grad: grad * 2)
    elif case == "forward-replaced":
        model.encoder.layers[0].forward = lambda x: x
    elif case == "engine":
        config = TrainConfig(engine="autograd")
    elif case == "frozen":
        model.encoder.layers[0].weight.requires_grad_(False)
    assert dense_step.for_training(make_model("dense"), Objective(), TrainConfig()) is not None
    assert dense_step.for_training(model, objective, config,
                                   distributed=case == "distributed") is None


def test_a_forward_hook_still_runs_during_training(make_model):
    model = make_model("dense")
    calls = []
    model.encoder.layers[0].register_forward_hook(lambda *a: calls.append(1))
    train(model, Objective(), torch.rand(64, 12), config=TrainConfig(epochs=1, batch_size=16))
    assert len(calls) >= 4  # every training step went through the module (autograd path)


def test_dropped_gradient_buffers_are_reattached(make_model):
    model = make_model("dense")
    step = dense_step.for_training(model, Objective(), TrainConfig())
    for p in model.parameters():
        p.grad = None  # e.g. optimizer.zero_grad() between steps
    step.step(torch.rand(8, 12))
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_flush_denormals_is_on_during_training_and_restored_after(make_model):
    seen = []
    assert not _flushing_denormals()
    train(make_model("dense"), Objective(), torch.rand(32, 12),
          config=TrainConfig(epochs=1, batch_size=16),
          callbacks=[lambda record, model: seen.append(_flushing_denormals())])
    assert seen == [True]
    assert not _flushing_denormals()  # the caller's mode is back
    torch.set_flush_denormal(True)
    try:
        with flush_denormals():
            pass
        assert _flushing_denormals()  # a mode the caller chose is kept
    finally:
        torch.set_flush_denormal(False)
