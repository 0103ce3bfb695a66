"""Model family: dense (any activation), tied, convolutional (three decoders), variational."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from aekit.errors import ConfigError
from aekit.models import (
    ACTIVATIONS, Autoencoder, ConvDecoder, ConvEncoder, ModelConfig, SegmentationConfig,
    SegmentationNetwork, build_model, config_from_dict,
)

# Every test here runs torch on one thread (conftest.py: one_thread); the model kinds,
# make_model and model_batch come from conftest.py as well.
pytestmark = pytest.mark.usefixtures("one_thread")


def test_forward_shapes_and_outputs(kind, make_model, model_batch):
    model = make_model(kind)
    x = model_batch(kind)
    out = model(x, generator=torch.Generator().manual_seed(1))
    k = model.code_size
    assert out["code"].shape == (5, k)
    assert out["recon"].shape == out["logits"].shape == x.shape
    assert torch.equal(model.encode(x), out["mu"] if model.variational else out["code"])
    if model.config.output_activation == "sigmoid":
        assert torch.allclose(out["recon"], torch.sigmoid(out["logits"]))
    assert model.decode(model.encode(x)).shape == x.shape


def test_parameter_count_from_sizes_matches_the_module(kind, make_model):
    # The model-file loader trusts this count to refuse absurd configs before allocating.
    model = make_model(kind)
    assert model.config.parameter_count() == sum(p.numel() for p in model.parameters())


def test_seed_makes_weights_reproducible_and_leaves_global_rng_alone(kind, make_model):
    state = torch.random.get_rng_state()
    a, b, c = make_model(kind, seed=3), make_model(kind, seed=3), make_model(kind, seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    for (name, pa), pb, pc in zip(a.state_dict().items(), b.state_dict().values(),
                                  c.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert any(not torch.equal(pa, pc) for pa, pc in
               zip(a.state_dict().values(), c.state_dict().values()) if pa.abs().sum() > 0)


# --- dense ----------------------------------------------------------------------------------
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
@pytest.mark.parametrize("output", ["sigmoid", "linear"])
def test_dense_every_activation(act, output):
    model = build_model(ModelConfig(n_features=10, hidden=(7, 5), code_size=2, activation=act,
                                    output_activation=output), seed=0)
    out = model(torch.rand(4, 10))
    assert torch.isfinite(out["recon"]).all()
    assert all(type(a) is ACTIVATIONS[act] for a in model.encoder.acts)
    if output == "sigmoid":
        assert ((out["recon"] > 0) & (out["recon"] < 1)).all()


def test_linear_autoencoder_is_affine(make_model, model_batch):
    # Linear = no activations anywhere: f(a x + (1 - a) y) = a f(x) + (1 - a) f(y).
    model = make_model("dense-linear")
    x, y = model_batch("dense-linear", 3, 1), model_batch("dense-linear", 3, 2)
    lhs = model(0.3 * x + 0.7 * y)["recon"]
    rhs = 0.3 * model(x)["recon"] + 0.7 * model(y)["recon"]
    assert torch.allclose(lhs, rhs, atol=1e-6)


def test_initialisation_fits_the_activation():
    # LeCun normal for selu (std 1/sqrt(fan_in)); He for relu (std sqrt(2/fan_in)).
    n_in = 400
    for act, std in (("selu", 1 / math.sqrt(n_in)), ("relu", math.sqrt(2 / n_in))):
        m = build_model(ModelConfig(n_features=n_in, hidden=(300,), code_size=2, activation=act),
                        seed=0)
        w = m.encoder.layers[0].weight
        assert w.std().item() == pytest.approx(std, rel=0.05)
        assert torch.count_nonzero(m.encoder.layers[0].bias) == 0
    # Glorot uniform for tanh: bound = gain * sqrt(6 / (fan_in + fan_out)).
    m = build_model(ModelConfig(n_features=n_in, hidden=(300,), code_size=2, activation="tanh"),
                    seed=0)
    bound = 5 / 3 * math.sqrt(6 / (n_in + 300))
    w = m.encoder.layers[0].weight
    assert w.abs().max().item() <= bound and w.abs().max().item() > 0.95 * bound


# --- tied weights ---------------------------------------------------------------------------
def test_tied_decoder_owns_no_weight_and_halves_the_parameters():
    cfg = dict(n_features=50, hidden=(20, 10), code_size=4)
    tied = build_model(ModelConfig(**cfg, tied=True), seed=0)
    untied = build_model(ModelConfig(**cfg), seed=0)
    own = dict(tied.decoder.named_parameters())
    assert own and all(name.startswith("biases.") for name in own)
    assert all(p.ndim == 1 for p in own.values())
    assert not any(k.startswith("decoder") and k.endswith("weight") for k in tied.state_dict())
    n_tied = sum(p.numel() for p in tied.parameters())
    n_untied = sum(p.numel() for p in untied.parameters())
    weights = 50 * 20 + 20 * 10 + 10 * 4
    assert n_untied - n_tied == weights  # exactly the decoder weight matrices
    assert 0.45 < n_tied / n_untied < 0.55


def test_tied_decoder_uses_the_transposed_encoder_weights():
    model = build_model(ModelConfig(n_features=6, hidden=(4,), code_size=2, tied=True), seed=0)
    z = torch.randn(3, 2)
    w1, w2 = (layer.weight for layer in model.encoder.layers)  # (4, 6), (2, 4)
    b = model.decoder.biases
    # W_dec = W_enc^T: decoder layer l multiplies by the weight of encoder layer N-l+1.
    expected = F.linear(torch.relu(F.linear(z, w2.t(), b[0])), w1.t(), b[1])
    assert torch.allclose(model.decode_logits(z), expected)
    # Changing the encoder weight changes the decoder: the weight is shared, not copied.
    with torch.no_grad():
        w2.mul_(2)
    assert not torch.allclose(model.decode_logits(z), expected)


def test_tied_gradients_flow_from_both_uses():
    model = build_model(ModelConfig(n_features=6, hidden=(), code_size=2, tied=True,
                                    activation="linear", output_activation="linear"), seed=0)
    x = torch.rand(4, 6)
    model(x)["recon"].pow(2).sum().backward()
    w = model.encoder.layers[0].weight
    # Reference: the same function with two *separate* copies of W; the tied grad is the sum.
    w_enc = w.detach().clone().requires_grad_(True)
    w_dec = w.detach().clone().requires_grad_(True)
    z = F.linear(x, w_enc, model.encoder.layers[0].bias.detach())
    F.linear(z, w_dec.t(), model.decoder.biases[0].detach()).pow(2).sum().backward()
    assert torch.allclose(w.grad, w_enc.grad + w_dec.grad, atol=1e-5)


# --- convolutional --------------------------------------------------------------------------
@pytest.mark.parametrize("decoder", ["transpose", "upsample", "unpool"])
@pytest.mark.parametrize("code_size", [None, 5])
@pytest.mark.parametrize("variational", [False, True])
def test_conv_odd_image_sizes_every_decoder(decoder, code_size, variational):
    if variational and (decoder == "unpool" or code_size is None):
        pytest.skip("VAEs need a code size and pooling-free decoding")
    shape = (3, 27, 29)
    cfg = ModelConfig(n_features=math.prod(shape), architecture="conv", hidden=(4, 6, 8),
                      code_size=code_size, image_shape=shape, decoder=decoder,
                      variational=variational)
    model = build_model(cfg, seed=0)
    x = torch.rand(2, math.prod(shape))
    out = model(x, generator=torch.Generator().manual_seed(0))
    assert out["recon"].shape == x.shape
    assert model.encoder.sizes == [(27, 29), (13, 14), (6, 7), (3, 3)]
    assert cfg.parameter_count() == sum(p.numel() for p in model.parameters())
    # Decoding a free code works too (no pooling indices: generation, interpolation).
    assert model.decode(torch.randn(2, model.code_size)).shape == x.shape


def test_unpooling_restores_values_at_the_pooled_indices():
    torch.manual_seed(0)
    enc = ConvEncoder((1, 7, 9), [3], "relu", return_indices=True)
    dec = ConvDecoder((1, 7, 9), [3], "relu", "unpool", "sigmoid")
    x = torch.rand(2, 1, 7, 9)
    pooled, context = enc(x)  # (2, 3, 3, 4)
    (idx,) = context["indices"]
    before_pool = enc.acts[0](enc.convs[0](x))  # (2, 3, 7, 9)
    # The indices point at each window's maximum of the pre-pool map...
    gathered = before_pool.flatten(2).gather(2, idx.flatten(2)).view_as(pooled)
    assert torch.equal(gathered, pooled)
    # ...and the decoder's unpooling step puts every value back exactly there, zeros elsewhere.
    dec.layers[0] = torch.nn.Identity()
    unpooled = dec._upsample(pooled, 0, (7, 9), context)
    assert unpooled.shape == before_pool.shape
    flat = unpooled.flatten(2)
    assert torch.equal(flat.gather(2, idx.flatten(2)), pooled.flatten(2))
    mask = torch.zeros_like(flat, dtype=torch.bool).scatter_(2, idx.flatten(2), True)
    assert torch.count_nonzero(flat[~mask]) == 0
    # Where the pre-pool map was the max in its window, unpooling reproduces it.
    assert torch.equal(unpooled.flatten(2)[mask], before_pool.flatten(2)[mask])


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_pooling_before_the_activation_changes_no_value_and_no_gradient(act):
    # The encoder pools first (a quarter of the values to activate); the textbook order is
    # activate, then pool. Every activation is non-decreasing, so both give the same map.
    torch.manual_seed(0)
    enc = ConvEncoder((2, 9, 7), [4, 5], act)
    x = torch.randn(3, 2, 9, 7, requires_grad=True)

    def textbook(inp):
        for conv, a in zip(enc.convs, enc.acts):
            inp = F.max_pool2d(a(conv(inp)), 2)
        return inp

    ours, _ = enc(x)
    ref = textbook(x)
    assert torch.allclose(ours, ref, atol=1e-6)
    weights = torch.randn(ref.shape)
    g_ours = torch.autograd.grad((ours * weights).sum(), [x, *enc.parameters()])
    g_ref = torch.autograd.grad((ref * weights).sum(), [x, *enc.parameters()])
    for a, b in zip(g_ours, g_ref):
        assert torch.allclose(a, b, atol=1e-5)


def test_unpool_model_uses_the_encoder_indices(make_model, model_batch):
    model = make_model("conv-unpool")
    x = model_batch("conv-unpool", 4)
    z, context = model.encode_with_context(x)
    with_indices = model.decode_logits(z, context)
    assert torch.allclose(model(x)["logits"], with_indices)
    assert not torch.allclose(with_indices, model.decode_logits(z))  # fixed top-left indices


# --- variational ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["vae-dense", "vae-conv"])
def test_vae_reparameterization_and_sampling(kind, make_model, model_batch, model_kinds):
    model = make_model(kind)
    x = model_batch(kind, 4)
    mu, logvar = model.encode_distribution(x)
    assert mu.shape == logvar.shape == (4, 2)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    out1, out2 = model(x, generator=g1), model(x, generator=g2)
    assert torch.equal(out1["code"], out2["code"])  # explicit generator: reproducible
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(out1["code"], mu + torch.exp(0.5 * logvar) * eps)
    # Gradients reach mu and log sigma^2 through the sample.
    out1["code"].sum().backward()
    assert all(p.grad is not None for p in model.to_code.parameters())
    s = model.sample(6, generator=torch.Generator().manual_seed(0))
    assert s.shape == (6, model_kinds[kind]["n_features"]) and ((s >= 0) & (s <= 1)).all()


def test_reparameterized_samples_have_the_posterior_moments(model_kinds):
    mu, logvar = torch.tensor([[1.5, -0.5]]), torch.tensor([[0.4, -1.2]])
    z = build_model(ModelConfig(**model_kinds["vae-dense"])).reparameterize(
        mu.expand(20000, 2), logvar.expand(20000, 2), torch.Generator().manual_seed(0))
    assert torch.allclose(z.mean(0), mu[0], atol=0.03)
    assert torch.allclose(z.var(0), logvar[0].exp(), rtol=0.05)


# --- config validation ----------------------------------------------------------------------
@pytest.mark.parametrize("bad, match", [
    (dict(activation="swish"), "activation"),
    (dict(output_activation="tanh"), "output_activation"),
    (dict(architecture="rnn"), "architecture"),
    (dict(hidden=(0,)), "hidden"),
    (dict(code_size=None), "code_size"),
    (dict(tied=True, variational=True), "tied"),
    (dict(architecture="conv", image_shape=None), "image_shape"),
    (dict(architecture="conv", image_shape=(1, 3, 3)), "n_features"),
    (dict(architecture="conv", image_shape=(1, 3, 4), decoder="bilinear"), "decoder"),
    (dict(architecture="conv", image_shape=(1, 3, 4), tied=True), "tied"),
    (dict(hidden=(10**6, 10**6)), "parameters"),
    (dict(hidden=(2.5,)), "integer"),
    (dict(code_size="3"), "integer"),
    (dict(tied="false"), "tied"),
])
def test_config_refuses_bad_values(bad, match):
    with pytest.raises(ConfigError, match=match):
        build_model(ModelConfig(**{"n_features": 12, "hidden": (4,), "code_size": 2, **bad}))


def test_conv_image_too_small_for_the_pools():
    with pytest.raises(ConfigError, match="too small"):
        build_model(ModelConfig(n_features=9, architecture="conv", hidden=(2, 2, 2),
                                image_shape=(1, 3, 3), code_size=2))


def test_conv_vae_refuses_unpool(model_kinds):
    with pytest.raises(ConfigError, match="unpool"):
        build_model(ModelConfig(**{**model_kinds["vae-conv"], "decoder": "unpool"}))


def test_config_dict_round_trip(model_kinds):
    for kind, kw in model_kinds.items():
        cfg = ModelConfig(**kw)
        assert ModelConfig.from_dict(cfg.to_dict()) == cfg, kind
    with pytest.raises(ConfigError, match="unknown keys"):
        ModelConfig.from_dict({**ModelConfig(**model_kinds["dense"]).to_dict(), "layers": 3})


@pytest.mark.parametrize("decoder", ["unpool", "transpose", "upsample"])
@pytest.mark.parametrize("decoder_convs, head_kernel", [(1, 1), (2, 3), (3, 5)])
def test_segmentation_decoder_blocks_and_head(decoder, decoder_convs, head_kernel):
    shape = (3, 27, 29)
    cfg = SegmentationConfig(n_features=math.prod(shape), n_classes=5, hidden=(4, 6, 8),
                             image_shape=shape, decoder=decoder,
                             decoder_convs=decoder_convs, head_kernel=head_kernel)
    model = build_model(cfg, seed=0)
    assert cfg.parameter_count() == sum(p.numel() for p in model.parameters())
    # one list per block, decoder_convs - 1 convs each (none, and no weights, for 1)
    assert [len(r) for r in model.decoder.refine] == [decoder_convs - 1] * 3
    assert any("refine" in key for key in model.state_dict()) == (decoder_convs > 1)
    x = torch.rand(2, math.prod(shape))
    assert model(x)["logits"].shape == (2, 5, 27, 29)
    assert model.head.kernel_size == (head_kernel, head_kernel)
    # the fields round-trip through the config's JSON form, read as a segmentation config
    assert config_from_dict(cfg.to_dict()) == cfg
    assert isinstance(model, SegmentationNetwork) and not isinstance(model, Autoencoder)


def test_segmentation_has_its_own_config_and_old_files_read_as_one():
    """The autoencoder's config has no segmentation fields; a segmentation network's file
    keeps the one schema (the autoencoder keys at their only values), and one written
    before decoder_convs / head_kernel existed reads them as 1."""
    ae = ModelConfig(n_features=64, architecture="conv", hidden=(4,), code_size=None,
                     image_shape=(1, 8, 8))
    assert not {"n_classes", "decoder_convs", "head_kernel"} & set(ae.to_dict())
    with pytest.raises(ConfigError, match="unknown keys"):
        ModelConfig.from_dict({**ae.to_dict(), "decoder_convs": 2})
    old = {**ae.to_dict(), "n_classes": 3, "output_activation": "linear"}  # a file from before
    cfg = config_from_dict(old)
    assert isinstance(cfg, SegmentationConfig) and cfg.to_dict() == {
        **old, "decoder_convs": 1, "head_kernel": 1}
    model = build_model(old, seed=0)
    assert model.head.kernel_size == (1, 1)
    assert not any("refine" in key for key in model.state_dict())  # the keys of old files
    for bad in ({"decoder_convs": 0}, {"decoder_convs": 5}, {"head_kernel": 2},
                {"head_kernel": 1.5}, {"decoder_convs": None}, {"head_kernel": None}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            config_from_dict({**old, **bad})
    for key, wrong in (("code_size", 4), ("variational", True), ("tied", True),
                       ("output_activation", "sigmoid")):  # not a segmentation network's
        with pytest.raises(ConfigError, match=key):
            config_from_dict({**old, key: wrong})


def test_parameters_are_counted_from_the_modules_on_the_meta_device():
    """The count is the built module's, built on the meta device (no weight allocated, no
    initialiser run: tests/test_lazy_dynamo.py checks torch._dynamo stays out), so a config
    of 2e12 parameters is refused at once; a file asking for a million layers is refused
    before any is built."""
    import time

    t = time.perf_counter()
    with pytest.raises(ConfigError, match="2e\\+12 parameters"):
        ModelConfig(10**6, hidden=(10**6,), code_size=10)
    with pytest.raises(ConfigError, match="at most 100"):
        ModelConfig(8, hidden=(4,) * 10**6, code_size=2)
    assert time.perf_counter() - t < 5


def test_a_segmentation_config_reads_as_any_network_config():
    """Code that reads any network's config (ONNX metadata, the report) sees the
    autoencoder keys a segmentation network's file carries, at their only values."""
    from aekit.models.segmentation import FIXED_KEYS

    cfg = SegmentationConfig(n_features=64, n_classes=3, image_shape=(1, 8, 8), hidden=(4,))
    for key, value in FIXED_KEYS.items():
        assert getattr(cfg, key) == value and cfg.to_dict()[key] == value, key
    assert build_model(cfg, seed=0).output_activation == "linear"
