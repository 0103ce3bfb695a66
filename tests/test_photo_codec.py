"""The photo codec (aekit.applications.photo, aekit.models.photo_codec; issue 32): the coder
codes with the density the network computes (stream bits = the model's -log2 likelihoods),
decodes exactly what the quantised network reconstructs, gives the same bytes on every run
and thread count, takes any size, grey or colour, in tiles; every damaged or foreign stream
and every bad image is a one-line error, and nothing is written in place of an output.

Most tests use a tiny random codec saved in a temporary folder (the coder's correctness does
not depend on training); the pretrained codec is tested through the API and the CLI."""

from __future__ import annotations

import functools
import json
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

import aekit
from aekit.applications import compression as dense
from aekit.applications import photo
from aekit.errors import ConfigError, DataError
from aekit.evaluation.rate_distortion import bd_psnr, bd_rate, ms_ssim, psnr_uint8
from aekit.models.photo_codec import (GDN, GDN_OFF_DIAGONAL_ROOT, PhotoCodec, PhotoCodecConfig,
                                      STRIDE_Z, config_from_weights, pad_to_stride,
                                      unstick_gdn, widen_latent, widen_transforms,
                                      with_levels)

RNG = np.random.default_rng(0)


def smooth_image(h, w, channels=3, seed=0):
    """A photograph-like test image: smooth gradients plus texture, uint8."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    planes = [128 + 90 * np.sin(6 * xx + c) * np.cos(4 * yy - c) + rng.normal(0, 8, (h, w))
              for c in range(channels)]
    image = np.clip(np.stack(planes, -1), 0, 255).astype(np.uint8)
    return image[..., 0] if channels == 1 else image


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A small codec with random weights (gains spread so the levels differ), saved."""
    torch.manual_seed(0)
    model = PhotoCodec(PhotoCodecConfig(channels=8, latent_channels=12, hyper_channels=8,
                                        lambdas=(0.01, 0.1, 1.0), hyper_widths=None))
    with torch.no_grad():
        model.gain.copy_(torch.tensor([[2.0], [20.0], [200.0]]).expand(3, 12))
        model.inverse_gain.copy_(1 / model.gain)
    folder = tmp_path_factory.mktemp("codec")
    photo.save_codec(model.eval(), folder, {"test": True})
    return str(folder)




# --- the coder against the network -------------------------------------------------------
@pytest.mark.parametrize("quality", [1, 37.5, 100])
def test_decoded_image_is_the_networks_quantised_reconstruction(tiny, quality, image=None):
    image = smooth_image(70, 90) if image is None else image
    h, w = image.shape[:2]
    codec = photo.load_codec(tiny)
    x = torch.from_numpy(image.transpose(2, 0, 1).astype(np.float32) / 255)[None]
    with torch.no_grad():
        expected = codec.model(pad_to_stride(x), codec.level(quality))["x_hat"]
    expected = np.round(expected[0, :, :h, :w].clamp(0, 1).numpy() * 255).transpose(1, 2, 0)
    decoded = photo.decompress(photo.compress(image, quality, codec=tiny), codec=tiny)
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    assert np.abs(decoded.astype(int) - expected).max() <= 1  # float rounding only


def test_escaped_latents_under_several_scale_levels_decode_in_place(tmp_path):
    """Latents outside their scale level's table are escaped and written raw; with escapes
    under many levels at once (large gains, scales spread over the table) the decoder must
    put each back where it came from (it once filled them in another order)."""
    torch.manual_seed(1)
    model = PhotoCodec(PhotoCodecConfig(channels=8, latent_channels=12, hyper_channels=8,
                                        lambdas=(0.01, 1.0)))
    with torch.no_grad():
        model.gain.fill_(3000.0)
        model.inverse_gain.fill_(1 / 100.0)  # not 1/gain: a misplaced latent must show
        last = model.h_s[-1]
        last.weight.zero_()  # scales: a spread of fixed levels per channel, means 0
        last.bias[:12] = 0
        last.bias[12:] = torch.linspace(1, -3, 12)  # descending: level order != C order
    photo.save_codec(model.eval(), tmp_path, {"test": True})
    codec = photo.load_codec(str(tmp_path))
    image = smooth_image(64, 64)
    x = torch.from_numpy(image.transpose(2, 0, 1).astype(np.float32) / 255)[None]
    with torch.no_grad():
        gain, _ = codec.model.gains(codec.level(100))
        y = codec.model.g_a(x) * gain
        means, index = codec._entropy_parameters(torch.round(codec.model.h_a(y)), y.shape)
        symbols = torch.round(y - means)[0].numpy()
    ranges = np.array(codec.y_ranges)[index[0]]
    escaped_levels = np.unique(index[0][np.abs(symbols) > ranges])
    assert len(escaped_levels) >= 3  # the case under test
    test_decoded_image_is_the_networks_quantised_reconstruction(str(tmp_path), 100, image)


def test_stream_bits_are_the_models_likelihoods(tiny):
    """The coded density is the trained one: the payload is within a few percent (range
    coder overhead, table quantisation, escapes) of sum -log2 p of the network's pass."""
    image = smooth_image(128, 192)
    codec = photo.load_codec(tiny)
    x = torch.from_numpy(image.transpose(2, 0, 1).astype(np.float32) / 255)[None]
    for quality in (1, 50):  # no escapes at these rates (an escape's p rounds to 0)
        with torch.no_grad():
            out = codec.model(x, codec.level(quality))
        bits = float(-torch.log2(out["y_likelihood"]).sum() - torch.log2(out["z_likelihood"]).sum())
        payload = 8 * (len(photo.compress(image, quality, codec=tiny)) - photo.HEADER.size - 4)
        assert bits * 0.97 - 64 <= payload <= bits * 1.03 + 64, (quality, bits, payload)


def test_quality_is_a_rate_knob(tiny):
    image = smooth_image(64, 64)
    sizes = [len(photo.compress(image, q, codec=tiny)) for q in (1, 50, 100)]
    assert sizes[0] < sizes[1] < sizes[2]


def test_bytes_identical_across_runs_and_thread_counts(tiny):
    image = smooth_image(100, 130)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = photo.compress(image, 60, codec=tiny)
        torch.set_num_threads(2)
        two = photo.compress(image, 60, codec=tiny)
    finally:
        torch.set_num_threads(threads)
    assert one == two == photo.compress(image, 60, codec=tiny)


@pytest.mark.parametrize("shape", [(1, 1), (1, 1, 3), (5, 200), (65, 130, 3), (64, 64),
                                   (3, 7, 1)])
def test_any_size_grey_or_colour(tiny, shape):
    image = RNG.integers(0, 256, shape, dtype=np.uint8)
    decoded = photo.decompress(photo.compress(image, 50, codec=tiny), codec=tiny)
    want = shape[:2] if len(shape) == 2 or shape[2] == 1 else shape
    assert decoded.shape == want and decoded.dtype == np.uint8


def test_float_image_is_the_same_as_its_uint8(tiny):
    image = smooth_image(40, 50)
    assert photo.compress(image / 255.0, 50, codec=tiny) == photo.compress(image, 50, codec=tiny)


def test_tiles_cover_the_image(tiny, monkeypatch):
    """A large image is coded in independent tiles (bounded memory): each tile decodes to
    what the image cut at that tile would."""
    image = smooth_image(150, 140)
    monkeypatch.setattr(photo, "TILE", 64)
    data = photo.compress(image, 50, codec=tiny)
    info = photo.photo_stream_info(data)
    assert info.tile == 64
    decoded = photo.decompress(data, codec=tiny)
    assert decoded.shape == image.shape
    corner = photo.decompress(photo.compress(image[64:128, 64:128], 50, codec=tiny), codec=tiny)
    assert np.array_equal(decoded[64:128, 64:128], corner)


# --- bad streams -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stream(tiny):
    return photo.compress(smooth_image(64, 96), 50, codec=tiny)


def test_truncated_or_flipped_stream_is_refused(tiny, stream):
    for cut in (0, 10, photo.HEADER.size, len(stream) - 1):
        with pytest.raises(DataError, match="truncated|shorter"):
            photo.decompress(stream[:cut], codec=tiny)
    for at in (photo.HEADER.size + 3, len(stream) - 2, 8):
        bad = bytearray(stream)
        bad[at] ^= 0x10
        with pytest.raises(DataError):
            photo.decompress(bytes(bad), codec=tiny)


def test_forged_payload_with_a_valid_crc_is_a_clear_error(tiny, stream):
    head = bytearray(stream[:photo.HEADER.size - 4])
    payload = bytearray(stream[photo.HEADER.size:])
    payload[0:4] = struct.pack("<I", 3)  # a tile length that is not whole words
    crc = zlib.crc32(bytes(payload), zlib.crc32(bytes(head)))
    with pytest.raises(DataError, match="corrupt tile length"):
        photo.decompress(bytes(head) + struct.pack("<I", crc) + bytes(payload), codec=tiny)


def test_other_formats_and_codecs_are_named(tiny, stream):
    with pytest.raises(DataError, match="another photo codec"):
        photo.decompress(stream)  # the pretrained codec's fingerprint differs
    with pytest.raises(DataError, match="not an aekit compressed stream"):
        photo.decompress(b"\x89PNG" + bytes(60), codec=tiny)
    newer = bytearray(stream)
    newer[4] = 9
    with pytest.raises(DataError, match="newer aekit"):
        photo.decompress(bytes(newer), codec=tiny)
    with pytest.raises(DataError, match="photograph .format 2."):
        dense.stream_info(stream)
    v1 = dense.HEADER.pack(dense.MAGIC, 1, 0, 50.0, 0, bytes(8), 0, 0)
    with pytest.raises(DataError, match="model's rows .format 1."):
        photo.decompress(v1, codec=tiny)
    with pytest.raises(DataError, match="bytes"):
        photo.decompress("not bytes", codec=tiny)


@pytest.mark.parametrize("quality", [0, 101, -5, True, "60", float("nan"), None])
def test_quality_outside_1_to_100_is_refused(tiny, quality):
    with pytest.raises(ConfigError, match="quality"):
        photo.compress(smooth_image(8, 8), quality, codec=tiny)


@pytest.mark.parametrize("image, match", [
    (np.zeros((0, 5, 3), np.uint8), "no pixels"),
    (np.zeros((4, 4, 4), np.uint8), "shape"),
    (np.zeros((4,), np.uint8), "shape"),
    (np.full((4, 4), 1.5), r"\[0, 1\]"),
    (np.full((4, 4), np.nan), r"\[0, 1\]"),
    (np.zeros((4, 4), np.int64), "uint8"),
])
def test_bad_images_are_refused(tiny, image, match):
    with pytest.raises(DataError, match=match):
        photo.compress(image, 50, codec=tiny)


def test_too_many_pixels_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.fromarray(np.zeros((40, 50), np.uint8)).save(path)
    monkeypatch.setattr(photo, "MAX_PIXELS", 1000)
    with pytest.raises(DataError, match="megapixels"):
        photo.read_image(path)


def test_png_modes(tmp_path):
    rgb = smooth_image(20, 30)
    Image.fromarray(rgb).convert("P").save(tmp_path / "palette.png")
    assert photo.read_image(tmp_path / "palette.png").shape == (20, 30, 3)
    Image.fromarray(rgb).convert("RGBA").save(tmp_path / "opaque.png")
    assert np.array_equal(photo.read_image(tmp_path / "opaque.png"), rgb)
    rgba = np.dstack([rgb, np.full((20, 30), 128, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    with pytest.raises(DataError, match="alpha.png.*transparent"):
        photo.read_image(tmp_path / "alpha.png")
    deep = (np.arange(600, dtype=np.uint16).reshape(20, 30) * 100)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    got = photo.read_image(tmp_path / "deep.png")
    assert got.dtype == np.uint8 and np.array_equal(got, (deep.astype(np.uint32) * 255 // 65535))
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="junk.png: not a readable image"):
        photo.read_image(tmp_path / "junk.png")


# --- the pretrained codec, the API and the CLI ------------------------------------------
def test_pretrained_codec_through_the_top_level_api():
    image = photo.read_image(photo.named_photo_path("skimage:astronaut.png"))[:128, :192]
    low, high = aekit.compress(image, 10), aekit.compress(image, 100)
    assert len(low) < len(high)
    assert psnr_uint8(image, aekit.decompress(low)) < psnr_uint8(image, aekit.decompress(high))
    assert np.array_equal(aekit.decompress(high), photo.decompress(high))


def test_cli_round_trip_is_the_api(tmp_path, run_cli):
    image = smooth_image(96, 80)
    Image.fromarray(image).save(tmp_path / "in.png")
    code, out, err = run_cli(["compress", tmp_path / "in.png", "--quality", 70,
                          "--out", tmp_path / "x.aekz"])
    assert code == 0, err
    assert (tmp_path / "x.aekz").read_bytes() == aekit.compress(image, 70)
    assert "80x96 colour image" in out and "PSNR" in out
    code, out, err = run_cli(["decompress", tmp_path / "x.aekz", "--out", tmp_path / "out.png"])
    assert code == 0, err
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")),
                          aekit.decompress(aekit.compress(image, 70)))


@pytest.mark.parametrize("argv, match", [
    (["compress", "{d}/in.png", "--quality", 0, "--out", "{d}/x.aekz"], "--quality"),
    (["compress", "{d}/in.png", "--out", "{d}/x.png"], r"\.aekz"),
    (["compress", "{d}/in.png", "--out", "{d}/in.png"], r"\.aekz"),
    (["compress", "{d}/in.png", "--data", "digits", "--out", "{d}/x.aekz"], "--data applies"),
    (["compress", "{d}/missing.png", "--out", "{d}/x.aekz"], "missing.png: no such file"),
    (["compress", "{d}/bad.png", "--out", "{d}/x.aekz"], "bad.png: not a readable image"),
    (["decompress", "{d}/bad.aekz", "--out", "{d}/y.png"], "bad.aekz: the stream is corrupt"),
    (["decompress", "{d}/missing.aekz", "--out", "{d}/y.png"], "no such file"),
    (["decompress", "{d}/good.aekz", "--out", "{d}/y.npy"], r"\.png"),
    (["decompress", "{d}/good.aekz", "--out", "{d}/y.png", "--png", "{d}/z.png"], "--png"),
    (["decompress", "{d}/good.aekz", "--out", "{d}/exists.png"], "exists; pass --force"),
])
def test_cli_errors_are_one_line_and_write_nothing(tmp_path, argv, match, run_cli):
    image = smooth_image(32, 32)
    Image.fromarray(image).save(tmp_path / "in.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    good = aekit.compress(image, 50)
    (tmp_path / "good.aekz").write_bytes(good)
    bad = bytearray(good)
    bad[-1] ^= 1
    (tmp_path / "bad.aekz").write_bytes(bytes(bad))
    (tmp_path / "exists.png").write_bytes(b"user data")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    code, out, err = run_cli([str(a).format(d=tmp_path) for a in argv])
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert __import__("re").search(match, err), err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_model_stream_commands_name_the_photo_form(tmp_path, run_cli):
    (tmp_path / "p.aekz").write_bytes(aekit.compress(smooth_image(16, 16), 50))
    model = tmp_path / "m"
    aekit.LinearAutoencoder(2, epochs=1).fit(RNG.random((20, 4)).astype(np.float32)).save(model)
    code, _, err = run_cli(["decompress", model, tmp_path / "p.aekz", "--out", tmp_path / "r.npy"])
    assert code == 2 and "photograph (format 2)" in err


# --- the measures the benchmark reports -------------------------------------------------
def test_bjontegaard_deltas_on_known_curves():
    rate = np.array([0.1, 0.2, 0.4, 0.8, 1.6])
    quality = 30 + 3 * np.log2(rate / 0.1)
    assert bd_rate(rate, quality, rate / 2, quality) == pytest.approx(-50, abs=1e-6)
    assert bd_rate(rate, quality, rate * 1.2, quality) == pytest.approx(20, abs=1e-6)
    assert bd_psnr(rate, quality, rate, quality + 1.5) == pytest.approx(1.5, abs=1e-9)
    # 3 dB per doubling: halving the rate is +3 dB at equal rate
    assert bd_psnr(rate, quality, rate / 2, quality) == pytest.approx(3, abs=1e-6)
    with pytest.raises(ValueError, match="overlap"):
        bd_rate(rate, quality, rate, quality + 100)


def test_ms_ssim_orders_distortions():
    image = smooth_image(200, 200).astype(np.float64)
    assert ms_ssim(image, image) == pytest.approx(1.0)
    mild = np.clip(image + RNG.normal(0, 3, image.shape), 0, 255)
    strong = np.clip(image + RNG.normal(0, 20, image.shape), 0, 255)
    assert 1 > ms_ssim(image, mild) > ms_ssim(image, strong) > 0
    with pytest.raises(ValueError, match="176"):
        ms_ssim(image[:100], image[:100])


def test_bf16_transforms_approximate_float32():
    """The training pass with its transforms in bfloat16 (train_photo_codec.py --bf16) gives
    float32 outputs close to the float32 pass (same noise seed), or --bf16 trains a
    different model than the coder runs."""
    torch.manual_seed(0)
    model = PhotoCodec(PhotoCodecConfig(channels=8, latent_channels=12, hyper_channels=8,
                                        lambdas=(0.01, 0.1, 1.0))).eval()
    x = torch.from_numpy(smooth_image(64, 64).transpose(2, 0, 1) / 255.0).float()[None]
    level = torch.tensor([2.0])
    ref = model(x, level)
    low = model(x, level, torch.bfloat16)
    assert low["x_hat"].dtype == torch.float32
    assert low["y_likelihood"].dtype == torch.float32
    assert 0 < (low["x_hat"] - ref["x_hat"]).abs().max() < 0.02
    assert torch.allclose(low["y_likelihood"].log2().sum(), ref["y_likelihood"].log2().sum(),
                          rtol=0.02)


@pytest.mark.slow  # ~5 s: loading the photographs, two short runs
def test_training_script_trains_resumes_and_saves_a_codec(tmp_path, load_script, monkeypatch):
    """scripts/train_photo_codec.py, shrunk (a tiny config, two photographs): it trains in
    bf16, saves a codec that loads and codes, and --resume continues from its checkpoint,
    here widening the latent."""
    script = load_script("train_photo_codec")
    monkeypatch.setattr(script, "TRAIN_IMAGES", ("sklearn:china.jpg", "skimage:coins.png"))
    monkeypatch.setattr(script, "PhotoCodecConfig", functools.partial(
        PhotoCodecConfig, channels=8, latent_channels=12, hyper_channels=8,
        lambdas=(0.01, 0.1, 1.0)))
    out, state = tmp_path / "codec", tmp_path / "state.safetensors"
    argv = ["--steps", "2", "--batch", "2", "--bf16", "--out", str(out), "--state", str(state)]
    assert script.main(argv) == 0
    assert '"steps": 2' in (out / "provenance.json").read_text()
    saved = (out / "model.safetensors").read_bytes()
    with pytest.raises(SystemExit) as bad:  # a width list is checked before any work
        script.main(argv + ["--resume", "--widen-transforms", "8,12"])
    assert bad.value.code == 2
    assert script.main(argv[:1] + ["4"] + argv[2:] + ["--resume", "--widen-latent", "16",
                                                       "--widen-transforms", "8,8,12"]) == 0
    assert '"steps": 4' in (out / "provenance.json").read_text()
    config = json.loads((out / "config.json").read_text())
    assert config["latent_channels"] == 16 and config["channels"] == [8, 8, 12]
    # the recipe gains a quality level below the lowest: --resume adds and trains it
    monkeypatch.setattr(script, "PhotoCodecConfig", functools.partial(
        PhotoCodecConfig, channels=8, latent_channels=12, hyper_channels=8,
        lambdas=(0.003, 0.01, 0.1, 1.0)))
    assert script.main(argv[:1] + ["5"] + argv[2:] + ["--resume"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["lambdas"] == [0.003, 0.01, 0.1, 1.0] and config["latent_channels"] == 16
    assert (out / "model.safetensors").read_bytes() != saved
    image = smooth_image(40, 50)
    decoded = photo.decompress(photo.compress(image, 60, codec=str(out)), codec=str(out))
    assert decoded.shape == image.shape and np.abs(decoded.astype(int) - image).mean() < 128


def test_widened_codec_reconstructs_as_before_and_old_configs_load():
    """widen_latent keeps the reconstruction exactly (new channels start free: a zero costs
    almost nothing), and a config written before hyper_widths existed builds the same net."""
    torch.manual_seed(0)
    narrow = PhotoCodec(PhotoCodecConfig(channels=8, latent_channels=12, hyper_channels=8,
                                         lambdas=(0.01, 0.1, 1.0), hyper_widths=None)).eval()
    wide = widen_latent(narrow, 20).eval()
    assert wide.config.latent_channels == 20 and wide.config.widths() == (12, 18)
    x = torch.from_numpy(smooth_image(64, 64).transpose(2, 0, 1) / 255.0).float()[None]
    for level in (0.0, 2.0):
        a, b = narrow(x, torch.tensor([level])), wide(x, torch.tensor([level]))
        assert torch.allclose(a["x_hat"], b["x_hat"], atol=1e-6)
        extra = -b["y_likelihood"][:, 12:].log2().sum()
        assert extra < 0.01 * -a["y_likelihood"].log2().sum()
    with pytest.raises(ValueError, match="fewer"):
        widen_latent(wide, 12)
    old = {k: v for k, v in narrow.config.to_dict().items() if k != "hyper_widths"}
    rebuilt = PhotoCodec(PhotoCodecConfig.from_dict(old))
    rebuilt.load_state_dict(narrow.state_dict())  # the same shapes


def test_widened_transforms_reconstruct_as_before_and_their_new_channels_train():
    """widen_transforms keeps the reconstruction and the likelihoods exactly (new channels
    output 0), and a training step reaches the new channels' incoming filters (their
    outgoing weights are not zero, or they would stay 0 for ever)."""
    torch.manual_seed(0)
    narrow = PhotoCodec(PhotoCodecConfig(channels=8, latent_channels=12, hyper_channels=8,
                                         lambdas=(0.01, 0.1, 1.0))).eval()
    wide = widen_transforms(narrow, (8, 10, 14)).eval()
    assert wide.config.transform_widths() == (8, 10, 14)
    assert wide.g_a[4].weight.shape == (14, 10, 5, 5) and wide.g_s[0].weight.shape[1] == 14
    x = torch.from_numpy(smooth_image(64, 64).transpose(2, 0, 1) / 255.0).float()[None]
    for level in (0.0, 2.0):
        a, b = narrow(x, torch.tensor([level])), wide(x, torch.tensor([level]))
        for key in a:
            assert torch.allclose(a[key], b[key], atol=1e-6), key
    wide.train()
    out = wide(x, torch.tensor([1.0]))
    (out["x_hat"] - x).square().mean().add(-out["y_likelihood"].log().mean()).backward()
    for new_filters in (wide.g_a[2].weight.grad[8:], wide.g_a[4].weight.grad[8:],
                        wide.g_s[0].weight.grad[:, 8:], wide.g_s[2].weight.grad[:, 8:]):
        assert new_filters.abs().sum() > 0
    with pytest.raises(ValueError, match="narrower"):
        widen_transforms(wide, (8, 8, 14))
    config = PhotoCodecConfig.from_dict(wide.config.to_dict())
    assert config.transform_widths() == (8, 10, 14)
    read = config_from_weights(wide.state_dict(), config.lambdas)  # what a checkpoint says
    assert read.to_dict() == wide.config.to_dict()
    with pytest.raises(ValueError, match="three"):
        PhotoCodecConfig(channels=(8, 8)).transform_widths()


def test_added_quality_levels_keep_the_trained_ones_and_start_below_them():
    """with_levels keeps each trained level's reconstruction and rate exactly (under its new
    index), and a level added below the lowest starts at fewer bits than it."""
    torch.manual_seed(0)
    model = PhotoCodec(PhotoCodecConfig(channels=8, latent_channels=12, hyper_channels=8,
                                        lambdas=(0.01, 0.1, 1.0))).eval()
    with torch.no_grad():  # spread as the tiny codec's, so a random net's levels differ
        model.gain.copy_(torch.tensor([[20.0], [200.0], [2000.0]]).expand(3, 12))
        model.inverse_gain.copy_(1 / model.gain)
    more = with_levels(model, (0.001, 0.01, 0.1, 0.3, 1.0)).eval()
    x = torch.from_numpy(smooth_image(64, 64).transpose(2, 0, 1) / 255.0).float()[None]

    def bits(out):
        return -(out["y_likelihood"].clamp_min(1e-9).log2().sum()  # as the training loss
                 + out["z_likelihood"].clamp_min(1e-9).log2().sum())

    for old_level, new_level in ((0, 1), (1, 2), (2, 4)):
        a = model(x, torch.tensor([float(old_level)]))
        b = more(x, torch.tensor([float(new_level)]))
        assert torch.equal(a["x_hat"], b["x_hat"]) and torch.equal(bits(a), bits(b))
    rates = [bits(more(x, torch.tensor([float(level)]))) for level in range(5)]
    assert rates[0] < rates[1] and rates[2] < rates[3] < rates[4]
    for bad in ((0.01, 1.0), (0.1, 0.01, 1.0)):  # drops a level; not ascending
        with pytest.raises(ValueError, match="ascend"):
            with_levels(model, bad)


def test_gdn_off_diagonal_weights_get_a_gradient():
    """GDN's gamma is the square of a parameter: where that is exactly 0 its gradient is 0 and
    it never trains (the first pretrained codec's GDNs stayed diagonal so). A new GDN starts
    its off-diagonal roots just above 0, and unstick_gdn moves stuck ones there."""
    torch.manual_seed(0)
    layer = GDN(4)
    x = torch.randn(2, 4, 5, 5)
    layer(x).square().sum().backward()
    off = ~torch.eye(4, dtype=torch.bool)
    assert (layer.gamma_root.grad[off] != 0).all()
    with torch.no_grad():
        layer.gamma_root[off] = 0
    layer.gamma_root.grad = None
    layer(x).square().sum().backward()
    assert (layer.gamma_root.grad[off] == 0).all()  # the stuck state
    model = torch.nn.Sequential(layer, GDN(3, inverse=True))
    assert unstick_gdn(model) == 12  # only the stuck ones of the first
    assert (layer.gamma_root[off] == GDN_OFF_DIAGONAL_ROOT).all()
    assert unstick_gdn(model) == 0


def test_gdn_gamma_is_never_subnormal_and_a_bounded_root_can_grow():
    """Roots that training drove toward 0 give gamma exactly 0, not subnormal floats (which
    made the retrained codec's decode 5x slower), and a root at the bound still gets a
    gradient when the loss wants gamma larger."""
    layer = GDN(3)
    with torch.no_grad():
        layer.gamma_root.copy_(torch.tensor([[1.0, 1e-30, -1e-25], [1e-3, 0.5, 2e-6],
                                             [1e-21, 0.0, 0.3]]))
    gamma = layer.gamma()
    tiny = torch.finfo(torch.float32).tiny
    assert not ((gamma != 0) & (gamma.abs() < tiny)).any()
    assert gamma[0, 1] == 0 and gamma[2, 0] == 0 and gamma[1, 0] > 0
    assert torch.allclose(gamma.diagonal(), torch.tensor([1.0, 0.25, 0.09]))
    (-layer.gamma()[0, 1]).backward()  # wants gamma[0, 1] larger
    assert layer.gamma_root.grad[0, 1] != 0


def test_pad_to_stride_replicates_edges():
    x = torch.arange(6.0).reshape(1, 1, 2, 3)
    padded = pad_to_stride(x)
    assert padded.shape == (1, 1, STRIDE_Z, STRIDE_Z)
    assert torch.equal(padded[0, 0, -1, -1], x[0, 0, -1, -1])


def test_equal_bytes_panels_and_figure(tiny):
    from aekit.evaluation.rate_distortion import equal_bytes
    from aekit.plotting import close_figure, plot_equal_bytes

    image = smooth_image(96, 128)
    panels = equal_bytes(image, 100, codec=tiny)
    assert [p["label"].split()[0] for p in panels] == ["original", "aekit", "JPEG", "WebP"]
    aekit_bytes = panels[1]["bytes"]
    assert aekit_bytes == len(photo.compress(image, 100, codec=tiny))
    for p in panels[2:]:  # the highest quality whose file fits, so one step up would not
        assert p["bytes"] <= aekit_bytes
        q = int(p["label"].split("q=")[1])
        if q < 100:
            fmt = "JPEG" if p["label"].startswith("JPEG") else "WEBP"
            assert len(photo.pillow_round_trip(image, fmt, q + 1)[0]) > aekit_bytes
        assert p["psnr"] == pytest.approx(psnr_uint8(image, p["image"]))
    fig = plot_equal_bytes(panels)
    assert len(fig.axes) == 8
    close_figure(fig)


def test_codec_folder_is_checked_before_use(tiny, tmp_path):
    import shutil

    from aekit.errors import ModelFileError

    with pytest.raises(ModelFileError, match="no photo codec"):
        photo.load_codec(str(tmp_path / "none"))
    damaged = tmp_path / "damaged"
    shutil.copytree(tiny, damaged)
    weights = bytearray((damaged / "model.safetensors").read_bytes())
    weights[-1] ^= 1
    (damaged / "model.safetensors").write_bytes(bytes(weights))
    with pytest.raises(ModelFileError, match="SHA-256"):
        photo.load_codec(str(damaged))
