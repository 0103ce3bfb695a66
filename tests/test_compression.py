"""Compression with real bitstreams (aekit.applications.compression, aekit.fitted.entropy,
the rate term of the Objective): exact round trips, the same bytes through every entry
point, and a clear DataError for every damaged, truncated or foreign stream."""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

import aekit
from aekit.applications import compression as C
from aekit.errors import ConfigError, DataError, ModelFileError
from aekit.estimators import ConvAutoencoder, StackedAutoencoder, VariationalAutoencoder
from aekit.fitted import FittedAutoencoder
from aekit.fitted.entropy import EntropyModel
from aekit.losses import Objective

FIXTURES = Path(__file__).parent / "fixtures" / "models_v1"
X = (load_digits().data / 16.0).astype(np.float32)
X_TRAIN, X_TEST = X[:1200], X[1200:]


@pytest.fixture(scope="module")
def models():
    """One small trained model of each kind that compresses differently."""
    return {
        "stacked": StackedAutoencoder(6, hidden_layer_sizes=(32,), epochs=15,
                                      random_state=0).fit(X_TRAIN),
        "conv": ConvAutoencoder((8, 8), channels=(4,), n_components=5, epochs=2,
                                random_state=0).fit(X_TRAIN[:300]),
        "vae": VariationalAutoencoder(4, hidden_layer_sizes=(32,), epochs=3,
                                      random_state=0).fit(X_TRAIN[:300]),
    }


@pytest.fixture(scope="module")
def stacked(models):
    return models["stacked"]


@pytest.fixture(scope="module")
def stream(stacked):
    return C.compress(stacked, X_TEST, quality=40)


# --- the round trip ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["stacked", "conv", "vae"])
@pytest.mark.parametrize("quality", [1, 25, 60, 100])
def test_round_trip_is_decoding_the_quantised_codes_bit_for_bit(models, kind, quality):
    model = models[kind]
    data = C.compress(model, X_TEST, quality=quality)
    Z_hat = C.quantise(model, X_TEST, quality)
    assert np.array_equal(C.decompress(model, data, codes=True), Z_hat)
    X_hat = C.decompress(model, data)
    assert X_hat.dtype == np.float32 and X_hat.shape == X_TEST.shape
    assert np.array_equal(X_hat, model.fitted_.decode(Z_hat))
    assert C.stream_info(data).rows == len(X_TEST)


def test_quantised_codes_lie_on_the_grid_and_within_half_a_step(stacked):
    em = stacked.fitted_.entropy
    steps = em.steps_for_quality(np.float32(30))
    Z, Z_hat = stacked.transform(X_TEST), C.quantise(stacked, X_TEST, 30)
    assert (np.abs(Z_hat - Z) <= steps / 2 * (1 + 1e-5) + 1e-6).all()
    i = (Z_hat.astype(np.float64) - em.offsets) / steps
    np.testing.assert_allclose(i, np.round(i), atol=1e-3)


def test_more_quality_costs_more_bits_and_gives_more_psnr(stacked):
    sizes, psnrs = [], []
    for q in (5, 20, 40, 60):
        data = C.compress(stacked, X_TEST, quality=q)
        sizes.append(len(data))
        psnrs.append(C.psnr(X_TEST, C.decompress(stacked, data)))
    assert sizes == sorted(sizes) and len(set(sizes)) == 4
    assert psnrs == sorted(psnrs)
    # the model's own reconstruction is the ceiling quantisation approaches
    assert psnrs[-1] <= C.psnr(X_TEST, stacked.reconstruct(X_TEST)) + 0.05


def test_bits_are_close_to_the_entropy_of_the_symbols(stacked):
    """The range coder spends about the empirical entropy of the model (not a fixed-width
    code): within 15% of the cross-entropy under the model's own tables."""
    q = np.float32(40)
    em = stacked.fitted_.entropy
    steps = em.steps_for_quality(q)
    lo, hi = em.alphabet(steps)
    S = np.floor((stacked.transform(X_TEST).astype(np.float64) - em.offsets) / steps + 0.5)
    bits = 0.0
    for j in range(em.code_size):
        p = em.probabilities(j, steps[j], int(lo[j]), int(hi[j]))
        p = p / p.sum()
        bits += -np.log2(p[(S[:, j] - lo[j]).astype(int)]).sum()
    data = C.compress(stacked, X_TEST, quality=q)
    payload = 8 * (len(data) - C.HEADER.size)
    assert bits * 0.99 <= payload <= bits * 1.15 + 64


def test_codes_outside_the_training_range_are_escaped_and_still_exact(stacked):
    """Noise and saturated images give codes beyond every training code: they are written
    raw after an escape symbol, and the round trip stays exact."""
    rng = np.random.default_rng(0)
    odd = np.vstack([rng.random((20, 64)), np.ones((3, 64)), np.zeros((3, 64))])
    odd = odd.astype(np.float32)
    em = stacked.fitted_.entropy
    Z = stacked.transform(odd)
    assert ((Z < em.quantiles[:, 0]) | (Z > em.quantiles[:, -1])).any()
    for q in (10, 90):
        data = C.compress(stacked, odd, quality=q)
        assert np.array_equal(C.decompress(stacked, data),
                              stacked.fitted_.decode(C.quantise(stacked, odd, q)))


def test_huge_codes_are_clipped_to_the_raw_range_not_wrapped():
    em = EntropyModel(np.zeros((1, 257)), np.zeros(1), np.ones(1), 1.0)
    S = C._symbols(em, np.array([[3e38], [-3e38]], np.float32), np.array([1.0]))
    assert S.tolist() == [[C.RAW_BASE - 1], [-(C.RAW_BASE - 1)]]


def test_one_row_and_images_layouts(stacked):
    one = C.compress(stacked, X_TEST[0], quality=50)
    assert C.stream_info(one).rows == 1
    assert np.array_equal(C.decompress(stacked, one),
                          C.decompress(stacked, C.compress(stacked, X_TEST[:1], 50)))
    images = C.compress(stacked, X_TEST[:7].reshape(7, 8, 8), quality=50)
    assert images == C.compress(stacked, X_TEST[:7], quality=50)


def test_each_row_is_coded_as_in_any_other_call(stacked):
    """Rows are encoded in fixed chunks, so a row's symbols do not depend on the others:
    decompressing a stream of 10 rows gives the first 10 rows of a stream of all."""
    all_rows = C.decompress(stacked, C.compress(stacked, X_TEST, 35))
    ten = C.decompress(stacked, C.compress(stacked, X_TEST[:10], 35))
    assert np.array_equal(all_rows[:10], ten)


# --- the header -----------------------------------------------------------------------------
def test_header_is_small_and_says_what_it_holds(stacked, stream):
    assert C.HEADER.size == 30
    info = C.stream_info(stream)
    assert info.version == C.VERSION == 1 and info.quality == 40.0
    assert info.rows == len(X_TEST) and info.total_bytes == len(stream)
    assert info.payload_bytes == len(stream) - 30
    assert info.fingerprint == C.fingerprint(stacked).hex()
    assert stream[:4] == b"AEKZ"
    assert C.bits_per_pixel(stacked, stream) == 8 * len(stream) / (len(X_TEST) * 64)


def test_quality_is_checked(stacked):
    for bad in (0, -1, 101, float("nan"), float("inf"), "50", True, None):
        with pytest.raises(ConfigError, match="quality"):
            C.compress(stacked, X_TEST[:3], quality=bad)


def test_a_quality_beyond_the_coder_is_refused_clearly():
    em = EntropyModel(np.linspace(-1, 1, 257)[None], np.zeros(1), np.ones(1), 1.0)
    with pytest.raises(ConfigError, match="too high"):
        em.alphabet(np.array([1e-6]))


# --- damaged streams ------------------------------------------------------------------------
def test_every_truncation_is_a_data_error(stacked, stream):
    for n in range(len(stream)):
        with pytest.raises(DataError):
            C.decompress(stacked, stream[:n])


def test_every_flipped_byte_is_a_data_error(stacked, stream):
    for i in range(len(stream)):
        bad = bytearray(stream)
        bad[i] ^= 0x5A
        with pytest.raises(DataError):
            C.decompress(stacked, bytes(bad))


def test_trailing_bytes_are_refused(stacked, stream):
    with pytest.raises(DataError, match="longer than its header says"):
        C.decompress(stacked, stream + b"\0")


def test_messages_say_what_is_wrong(stacked, stream):
    with pytest.raises(DataError, match="not an aekit compressed stream"):
        C.decompress(stacked, b"\x89PNG\r\n\x1a\n" + bytes(40))
    with pytest.raises(DataError, match="truncated"):
        C.decompress(stacked, stream[:-3])
    bad = bytearray(stream)
    bad[-1] ^= 1
    with pytest.raises(DataError, match="CRC-32"):
        C.decompress(stacked, bytes(bad))
    newer = bytearray(stream)
    newer[4] = 3
    with pytest.raises(DataError, match="newer aekit"):
        C.decompress(stacked, bytes(newer))
    newer[4] = 2  # the photo codec's format: the message names the command that reads it
    with pytest.raises(DataError, match="photograph .format 2.*aekit decompress STREAM"):
        C.decompress(stacked, bytes(newer))
    with pytest.raises(DataError, match="bytes"):
        C.decompress(stacked, "AEKZ")


def _recrc(data: bytes) -> bytes:
    """The stream with its CRC recomputed (a deliberate edit, not damage)."""
    head = data[:C.HEADER.size - 4]
    crc = zlib.crc32(data[C.HEADER.size:], zlib.crc32(head))
    return head + struct.pack("<I", crc) + data[C.HEADER.size:]


def test_forged_header_fields_with_a_valid_checksum_are_refused(stacked, stream):
    fields = list(C.HEADER.unpack_from(stream))
    for index, value in ((3, 0.0), (3, float("nan")), (3, 500.0), (2, 1)):
        f = list(fields)
        f[index] = value
        forged = _recrc(C.HEADER.pack(*f) + stream[C.HEADER.size:])
        with pytest.raises(DataError, match="corrupt stream header"):
            C.decompress(stacked, forged)


def test_a_stream_of_another_model_is_refused(stacked, stream):
    other = StackedAutoencoder(6, hidden_layer_sizes=(32,), epochs=1,
                               random_state=1).fit(X_TRAIN)
    with pytest.raises(DataError, match="another model"):
        C.decompress(other, stream)
    # the same network with another entropy model is another decoder too
    refit = FittedAutoencoder(stacked.fitted_.module, layout=stacked.fitted_.layout)
    refit.fit_entropy(X_TRAIN[:300])
    with pytest.raises(DataError, match="another model"):
        C.decompress(refit, stream)


# --- every entry point gives the same bytes ---------------------------------------------------
def test_estimator_fitted_folder_and_loaded_model_give_the_same_bytes(stacked, stream,
                                                                      tmp_path):
    stacked.save(tmp_path / "m")
    loaded = aekit.load(tmp_path / "m")
    fitted = FittedAutoencoder.load(tmp_path / "m")
    for model in (stacked.fitted_, tmp_path / "m", str(tmp_path / "m"), loaded, fitted):
        assert C.compress(model, X_TEST, quality=40) == stream
        assert np.array_equal(C.decompress(model, stream), C.decompress(stacked, stream))
    assert np.array_equal(fitted.entropy.quantiles, stacked.fitted_.entropy.quantiles)


def test_saved_folder_holds_the_entropy_model_and_checks_it(stacked, tmp_path):
    from safetensors.torch import load_file, save_file

    stacked.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["fitted"]["entropy_model"] is True
    tensors = load_file(str(tmp_path / "m" / "model.safetensors"))
    assert {k for k in tensors if k.startswith("extra/entropy/")} == {
        "extra/entropy/quantiles", "extra/entropy/offsets", "extra/entropy/gains",
        "extra/entropy/signal"}
    # tensors lost: refused at load, not when compressing
    shutil.copytree(tmp_path / "m", tmp_path / "lost")
    save_file({k: v for k, v in tensors.items() if "entropy" not in k},
              str(tmp_path / "lost" / "model.safetensors"), metadata={"format": "aekit-model-1"})
    with pytest.raises(ModelFileError, match="entropy model"):
        aekit.load(tmp_path / "lost")
    # unsorted quantiles: refused
    shutil.copytree(tmp_path / "m", tmp_path / "bad")
    broken = dict(tensors)
    broken["extra/entropy/quantiles"] = broken["extra/entropy/quantiles"].flip(1)
    save_file(broken, str(tmp_path / "bad" / "model.safetensors"),
              metadata={"format": "aekit-model-1"})
    with pytest.raises(ModelFileError, match="unsorted"):
        aekit.load(tmp_path / "bad")


def test_fit_and_partial_fit_fit_the_entropy_model_on_the_training_codes(stacked):
    em = stacked.fitted_.entropy
    Z = stacked.transform(X_TRAIN).astype(np.float64)
    np.testing.assert_allclose(em.quantiles[:, 0], Z.min(0))
    np.testing.assert_allclose(em.quantiles[:, -1], Z.max(0))
    np.testing.assert_allclose(em.offsets, np.median(Z, 0))
    assert (em.gains > 0).all() and em.signal > 0
    est = StackedAutoencoder(3, hidden_layer_sizes=(8,), epochs=2, random_state=0)
    est.partial_fit(X_TRAIN[:100])
    assert est.fitted_.entropy is not None


def test_gains_are_the_decoders_sensitivity():
    """A linear decoder x = W z + b has d x / d z_j = W[:, j]: g_j = mean_i W_ij^2."""
    est = StackedAutoencoder(3, hidden_layer_sizes=(), output_activation="linear",
                             epochs=2, random_state=0).fit(X_TRAIN[:200])
    W = [p for n, p in est.fitted_.module.named_parameters() if n.startswith("decoder")
         and p.ndim == 2][0].detach().double().numpy()  # (64, 3)
    np.testing.assert_allclose(est.fitted_.entropy.gains, (W ** 2).mean(0), rtol=1e-4)


# --- old folders, bare modules, VAEs ---------------------------------------------------------
def test_an_old_folder_says_what_it_needs_then_compresses_with_training_rows():
    folder = FIXTURES / "stacked"
    model = aekit.load(folder)
    assert model.fitted_.entropy is None
    with pytest.raises(ConfigError, match="X_fit"):
        C.compress(model, X_TEST[:20])
    data = C.compress(folder, X_TEST[:20], quality=40, X_fit=X[:200])
    assert np.array_equal(C.decompress(folder, data, X_fit=X[:200]),
                          model.fitted_.decode(C.quantise(model, X_TEST[:20], 40,
                                                          X_fit=X[:200])))
    with pytest.raises(ConfigError, match="X_fit"):
        C.decompress(folder, data)
    with pytest.raises(DataError, match="another model"):
        C.decompress(folder, data, X_fit=X[:150])


def test_a_vae_without_a_fitted_entropy_model_uses_its_prior(models):
    vae = models["vae"]
    vae.fitted_.entropy_model()  # derived from the prior on first use (whichever test is first)
    assert vae.fitted_.entropy is not None
    again = FittedAutoencoder(vae.fitted_.module, layout=vae.fitted_.layout)
    again.entropy = None
    assert np.array_equal(again.entropy_model().quantiles, vae.fitted_.entropy.quantiles)
    data = C.compress(vae, X_TEST, 30)
    assert np.array_equal(C.decompress(again, data), C.decompress(vae, data))


def test_old_vae_folder_compresses_without_training_rows():
    data = C.compress(FIXTURES / "vae_dense", X_TEST[:10], quality=30)
    assert C.decompress(FIXTURES / "vae_dense", data).shape == (10, 64)


# --- the rate term ---------------------------------------------------------------------------
def test_rate_term_is_bits_under_the_batch_gaussian_convolved_with_the_noise():
    from aekit.losses.objectives import code_rate_bits

    torch.manual_seed(0)
    z = torch.randn(500, 3, dtype=torch.float64) * torch.tensor([0.2, 1.0, 5.0],
                                                                dtype=torch.float64)
    bits = code_rate_bits(torch.round(z), z)
    mu, s = z.mean(0), z.std(0, unbiased=False)
    normal = torch.distributions.Normal(mu, s)
    p = normal.cdf(torch.round(z) + 0.5) - normal.cdf(torch.round(z) - 0.5)
    torch.testing.assert_close(bits, -torch.log2(p).sum(1))
    # far tails stay finite (both tails computed where Phi is small)
    assert torch.isfinite(code_rate_bits(torch.full((2, 3), 40.0, dtype=torch.float64), z)).all()


def test_rate_term_trains_with_noise_and_evaluates_rounded(make_model):
    model = StackedAutoencoder(4, hidden_layer_sizes=(16,), epochs=1).fit(X_TRAIN[:64])
    module = model.fitted_.module
    x = torch.from_numpy(X_TRAIN[:32])
    obj = Objective(rate_weight=0.1)
    assert obj.closed_form() is None  # autograd
    g = torch.Generator().manual_seed(0)
    terms = obj(module, x, generator=g)
    assert set(terms) >= {"recon", "rate", "loss"}
    torch.testing.assert_close(terms["loss"], terms["recon"] + 0.1 * terms["rate"])
    terms["loss"].backward()
    assert all(p.grad is not None for p in module.parameters())
    a = obj(module, x, train=False)["recon"]
    b = obj(module, x, train=False)["recon"]
    assert a == b  # evaluation rounds: deterministic
    assert Objective(rate_weight=0.0).closed_form() is not None
    with pytest.raises(ConfigError, match="rate_weight"):
        Objective(rate_weight=-1.0)
    vae = VariationalAutoencoder(2, hidden_layer_sizes=(8,), epochs=1).fit(X_TRAIN[:64])
    with pytest.raises(ConfigError, match="plain autoencoders"):
        obj(vae.fitted_.module, x)


@pytest.mark.slow
def test_a_larger_rate_weight_trades_quality_for_bits():
    """The one parameter moves the operating point: a larger rate_weight ends training
    with fewer bits per value at the trained step (the "rate" term, evaluated rounded on
    the training rows) and a larger reconstruction error."""
    ends = []
    for w in (0.01, 0.5):
        est = StackedAutoencoder(8, hidden_layer_sizes=(64,), epochs=10, rate_weight=w,
                                 random_state=0).fit(X_TRAIN)
        ends.append(est.history_[-1])
    assert ends[1]["rate"] < 0.7 * ends[0]["rate"]
    assert ends[1]["recon"] > ends[0]["recon"]


def test_rate_weight_is_an_estimator_keyword_saved_and_loaded(tmp_path):
    est = StackedAutoencoder(3, hidden_layer_sizes=(8,), epochs=1, rate_weight=0.05,
                             random_state=0).fit(X_TRAIN[:100])
    assert est._objective().rate_weight == 0.05
    est.save(tmp_path / "m")
    assert aekit.load(tmp_path / "m").rate_weight == 0.05
    with pytest.raises(ConfigError, match="rate_weight"):
        StackedAutoencoder(rate_weight=-0.1).fit(X_TRAIN[:10])
    for cls in (StackedAutoencoder, ConvAutoencoder):
        assert "rate_weight" in cls.__doc__


# --- the tour section ------------------------------------------------------------------------
@pytest.mark.slow
def test_tour_section_measures_real_bytes_in_and_out_of_domain():
    from aekit.tour import run_tour
    from aekit.tour.compression import image_codec, jpeg_payload

    report = run_tour("digits", quick=True, only=["Compression"])
    res = report.results["compression"]
    bpp = [p["bpp"] for p in res["aekit"]]
    assert bpp == sorted(bpp) and len(set(bpp)) == len(bpp)
    assert set(res["out_of_domain"]) == {"test images (in domain)",
                                         "inverted test images (1 - x)", "uniform noise"}
    section = next(s for s in report.sections if s.title.startswith("Compression"))
    assert "not as good as JPEG" in section.claim and "Out of domain" in section.measured
    # JPEG bytes are real files: a 1-image "file" is bigger than its payload
    one = image_codec(X_TEST[:1], (1, 8, 8), "JPEG", quality=50)
    assert one["bpp"] > one["payload_bpp"] > 0
    with pytest.raises(ConfigError):
        jpeg_payload(b"\xff\xd8\xff\xd9")
