"""Segmentation (issue 15): scenes with per-pixel labels, masks from a user's folder, SegNet's
metrics on hand-computed cases, the ConvSegmenter estimator (any size and channel count,
bad masks, save/load, checkpoints and resume), and its seams: estimator, saved folder,
fitted model, CLI (train / segment / evaluate) and report give the same numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import aekit
from aekit.cli import main
from aekit.datasets import load, make_scenes
from aekit.errors import ConfigError, DataError
from aekit.estimators.segmenter import check_masks, median_frequency_weights
from aekit.evaluation import segmentation_metrics
from aekit.evaluation.segmentation import boundary, boundary_f1_image

pytestmark = pytest.mark.usefixtures("one_thread")


# --- scenes ---------------------------------------------------------------------------------
def digits():
    ds = load("digits", split="train")
    return ds.X, ds.y


def test_make_scenes_shapes_range_and_determinism():
    X, y = digits()
    imgs, masks = make_scenes(X, y, 20, canvas=32, random_state=3)
    assert imgs.shape == (20, 1, 32, 32) and imgs.dtype == np.float32
    assert masks.shape == (20, 32, 32) and masks.dtype == np.int64
    assert imgs.min() >= 0 and imgs.max() <= 1
    assert set(np.unique(masks)) <= set(range(11)) and (masks > 0).any()
    again = make_scenes(X, y, 20, canvas=32, random_state=3)
    assert np.array_equal(imgs, again[0]) and np.array_equal(masks, again[1])
    other = make_scenes(X, y, 20, canvas=32, random_state=4)
    assert not np.array_equal(masks, other[1])


def test_object_pixels_are_the_source_pixels_above_the_threshold():
    """One object per scene: the mask is 1 + its class exactly where the pasted source
    value exceeds the threshold, and the image holds the source unchanged."""
    X, y = digits()
    imgs, masks = make_scenes(X[:1], y[:1], 5, canvas=20, max_objects=1, threshold=0.3)
    src = X[0].reshape(8, 8)
    for img, mask in zip(imgs[:, 0], masks):
        rows, cols = np.nonzero(img)
        top, left = rows.min() - np.nonzero(src)[0].min(), cols.min() - np.nonzero(src)[1].min()
        window = img[top:top + 8, left:left + 8]
        assert np.array_equal(window, src)
        assert np.array_equal(mask[top:top + 8, left:left + 8] > 0, src > 0.3)
        assert set(np.unique(mask)) == {0, 1 + y[0]}
        assert mask.sum() == (1 + y[0]) * (src > 0.3).sum()  # nothing outside the object


def test_occlusion_keeps_image_and_mask_consistent():
    X, y = digits()
    imgs, masks = make_scenes(X, y, 50, canvas=12, max_objects=3, min_objects=3,
                              random_state=0)
    # every labelled pixel is bright, every background pixel is faint
    assert (imgs[:, 0][masks > 0] > 0.2).all()
    assert (imgs[:, 0][masks == 0] <= 0.2).all()


def test_avoid_rule_never_overlaps_and_colour_makes_any_channel_count():
    X, y = digits()
    imgs, masks = make_scenes(X, y, 30, canvas=(27, 29), max_objects=3, overlap="avoid",
                              channels=3, scale=(1.0, 1.5), random_state=1)
    assert imgs.shape == (30, 3, 27, 29) and masks.shape == (30, 27, 29)
    assert not np.allclose(imgs[:, 0], imgs[:, 1])  # coloured objects
    # avoid: each connected object keeps one class (no occluded mixtures inside a box)
    assert (masks > 0).any()


@pytest.mark.parametrize("kw, match", [
    (dict(canvas=6), "do not fit"),
    (dict(overlap="stack"), "overlap"),
    (dict(min_objects=4, max_objects=3), "min_objects"),
    (dict(scale=(2.0, 1.0)), "scale"),
    (dict(channels=2), "channels"),
])
def test_make_scenes_refuses_bad_options(kw, match):
    X, y = digits()
    with pytest.raises(ConfigError, match=match):
        make_scenes(X, y, 2, **{"canvas": 16, **kw})


def test_make_scenes_refuses_bad_sources():
    X, y = digits()
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        make_scenes(X * 16, y, 2, canvas=16)
    with pytest.raises(DataError, match="one label per image"):
        make_scenes(X, y[:-1], 2, canvas=16)


def test_scenes_data_source_splits_and_options():
    train = load("scenes:digits:n=40,canvas=24,objects=2")
    test = load("scenes:digits:n=40,canvas=24,objects=2", split="test")
    assert train.X.shape == (40, 24 * 24) and test.X.shape == (10, 24 * 24)
    assert train.y.shape == (40, 24, 24) and train.image_shape == (1, 24, 24)
    assert train.classes[0] == "background" and len(train.classes) == 11
    both = load("scenes:digits:n=40,canvas=24,objects=2", split="all")
    assert np.array_equal(both.X, np.concatenate([train.X, test.X]))
    with pytest.raises(ConfigError, match="unknown scenes option"):
        load("scenes:digits:size=3")
    with pytest.raises(DataError, match="named dataset"):
        load("scenes:cifar")


# --- a user's folder with masks ---------------------------------------------------------------
def write_masked_folder(root, n=10, size=(29, 27), rgb=True, seed=0):
    """root/images/*.png (RGB, width x height = size) and root/masks/*.png (mode L)."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    imgs, masks = make_scenes(*digits(), n, canvas=(size[1], size[0]), channels=3 if rgb else None,
                              random_state=seed)
    for i in range(n):
        pix = np.round(np.moveaxis(imgs[i], 0, -1) * 255).astype(np.uint8)
        Image.fromarray(pix if rgb else pix[..., 0]).save(root / "images" / f"s{i:02d}.png")
        Image.fromarray(masks[i].astype(np.uint8), mode="L").save(root / "masks" / f"s{i:02d}.png")
    del rng
    return imgs, masks


def test_masked_folder_loads_images_and_masks(tmp_path):
    imgs, masks = write_masked_folder(tmp_path / "set")
    ds = load(tmp_path / "set")
    assert ds.image_shape == (3, 27, 29) and ds.y.shape == (10, 27, 29)
    assert np.array_equal(ds.y, masks)
    assert np.allclose(ds.X.reshape(imgs.shape), imgs, atol=1 / 255)
    assert len(load(tmp_path / "set", split="test")) == 2
    assert len(load(tmp_path / "set", split="train")) == 8


def test_masked_folder_errors_name_the_file(tmp_path):
    write_masked_folder(tmp_path / "a")
    (tmp_path / "a" / "masks" / "s03.png").unlink()
    with pytest.raises(DataError, match="s03"):
        load(tmp_path / "a")
    write_masked_folder(tmp_path / "b")
    Image.new("RGB", (29, 27)).save(tmp_path / "b" / "masks" / "s04.png")
    with pytest.raises(DataError, match=r"s04\.png.*mode RGB"):
        load(tmp_path / "b")
    write_masked_folder(tmp_path / "c")
    Image.new("L", (10, 10)).save(tmp_path / "c" / "masks" / "s05.png")
    with pytest.raises(DataError, match=r"s05\.png.*10x10.*29x27"):
        load(tmp_path / "c")


# --- masks and metrics, by hand ---------------------------------------------------------------
def test_check_masks_errors_name_the_row():
    ok = np.zeros((3, 4, 5), np.int64)
    assert check_masks(ok, 3, (4, 5)).shape == (3, 4, 5)
    assert check_masks(ok.reshape(3, 20), 3, (4, 5)).shape == (3, 4, 5)  # flat rows
    with pytest.raises(DataError, match=r"shape \(3, 4, 5\)"):
        check_masks(np.zeros((3, 5, 4)), 3, (4, 5))
    with pytest.raises(DataError, match=r"shape \(2, 4, 5\)"):
        check_masks(ok, 2, (4, 5))
    bad = ok.copy()
    bad[2, 1, 1] = 7
    with pytest.raises(DataError, match="row 2 .*label 7.*n_classes=5"):
        check_masks(bad, 3, (4, 5), n_classes=5)
    bad = ok.astype(float)
    bad[1, 0, 0] = 0.5
    with pytest.raises(DataError, match="row 1 .*not a whole number"):
        check_masks(bad, 3, (4, 5))
    bad = ok.copy()
    bad[0, 3, 4] = -1
    with pytest.raises(DataError, match="row 0 .*below 0"):
        check_masks(bad, 3, (4, 5))
    with pytest.raises(DataError, match="integer class labels"):
        check_masks(ok.astype(str), 3, (4, 5))


T = np.array([[0, 0, 0, 0],
              [0, 1, 1, 0],
              [0, 1, 1, 2],
              [0, 0, 2, 2]])
P = np.array([[0, 0, 0, 0],
              [0, 1, 1, 1],
              [0, 1, 0, 2],
              [0, 0, 0, 2]])


def test_metrics_hand_computed():
    # confusion (rows true 0/1/2, columns predicted): [[8, 1, 0], [1, 3, 0], [1, 0, 2]]
    m = segmentation_metrics(T, P)
    assert m["global_accuracy"] == pytest.approx(13 / 16)
    assert m["class_accuracy"] == pytest.approx((8 / 9 + 3 / 4 + 2 / 3) / 3)
    # IoU: 0: 8 / (9 + 10 - 8) = 8/11; 1: 3 / (4 + 4 - 3) = 3/5; 2: 2 / (3 + 2 - 2) = 2/3
    assert m["iou"] == pytest.approx([8 / 11, 3 / 5, 2 / 3])
    assert m["miou"] == pytest.approx((8 / 11 + 3 / 5 + 2 / 3) / 3)
    assert m["n_classes"] == 3 and m["pixels"] == 16 and m["images"] == 1


def test_a_class_in_neither_mask_is_left_out_of_the_mean():
    m = segmentation_metrics(T, P, n_classes=5)
    assert m["iou"][3] is None and m["iou"][4] is None
    assert m["miou"] == pytest.approx((8 / 11 + 3 / 5 + 2 / 3) / 3)
    # a class only predicted counts, with IoU 0; class accuracy only counts true classes
    P2 = P.copy()
    P2[0, 0] = 4
    m2 = segmentation_metrics(T, P2, n_classes=5)
    assert m2["iou"][4] == 0.0
    # background: TP 7, 9 true, 9 predicted -> 7 / 11
    assert m2["miou"] == pytest.approx((7 / 11 + 3 / 5 + 2 / 3 + 0) / 4)
    assert m2["class_accuracy"] == pytest.approx((7 / 9 + 3 / 4 + 2 / 3) / 3)


def test_boundary_pixels():
    square = np.zeros((5, 5), bool)
    square[1:4, 1:4] = True
    b = boundary(square)
    assert b.sum() == 8 and not b[2, 2]  # the ring, not the centre
    assert not boundary(np.ones((3, 3), bool)).any()  # the image edge is not a boundary


def test_boundary_f1_tolerance_by_hand():
    """A vertical edge moved by d columns: within 2 px it is found (F1 = 1), at 3 px not."""
    def halves(col):
        m = np.zeros((10, 10), np.int64)
        m[:, col:] = 1
        return m

    true = halves(5)
    # class 1's boundary is column 5 (and class 0's column 4); shifted by 2 both are within
    assert boundary_f1_image(true, halves(7)) == 1.0
    assert boundary_f1_image(true, halves(8)) == 0.0
    # tolerance 3 finds them again
    assert boundary_f1_image(true, halves(8), tolerance=3) == 1.0
    # half of the predicted edge right, half 4 px off: P = R = 1/2 for each class
    pred = true.copy()
    pred[5:, 5:9] = 0
    f1 = boundary_f1_image(true, pred)
    # class 1: true edge col 5 rows 0-9; predicted edge: col 5 rows 0-4, col 9 rows 5-9 and
    # the row-4 step (row 4 cols 6-8 touch the removed block, plus the corner (4, 9)).
    assert 0 < f1 < 1
    assert segmentation_metrics(true[None], pred[None])["boundary_f1"] == pytest.approx(f1)


def test_boundary_f1_class_missing_from_one_mask_scores_zero():
    true = np.zeros((6, 6), np.int64)
    true[2:4, 2:4] = 1
    empty = np.zeros((6, 6), np.int64)
    # background: true has a boundary (around the square), empty has none -> 0;
    # class 1 only in true -> 0
    assert boundary_f1_image(true, empty) == 0.0
    assert boundary_f1_image(empty, empty) == 1.0  # background fills both: nothing to miss


def test_median_frequency_weights_by_hand():
    masks = np.zeros((2, 2, 2), np.int64)
    masks[0] = [[0, 0], [0, 1]]  # image 0: 3 background, 1 class 1
    masks[1] = [[0, 0], [2, 2]]  # image 1: 2 background, 2 class 2
    # freq_0 = 5 / 8, freq_1 = 1 / 4 (only image 0 holds it), freq_2 = 2 / 4
    w = median_frequency_weights(masks, 4)
    median = 0.5  # of [5/8, 1/4, 1/2]
    assert w == pytest.approx([median / (5 / 8), median / (1 / 4), median / (1 / 2), 1.0])


# --- the estimator -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rgb_scenes():
    """27x29 RGB scenes of digits (train, test)."""
    X, y = digits()
    a = make_scenes(X, y, 48, canvas=(27, 29), channels=3, random_state=0)
    b = make_scenes(X, y, 12, canvas=(27, 29), channels=3, random_state=1)
    return a, b


@pytest.fixture(scope="module")
def fitted(rgb_scenes):
    (X, M), _ = rgb_scenes
    return aekit.ConvSegmenter(channels=(6, 8), epochs=2, batch_size=8, random_state=0,
                               class_weight="median_frequency").fit(X, M)


def test_fit_predict_any_size_and_channels(fitted, rgb_scenes):
    _, (Xt, Mt) = rgb_scenes
    assert fitted.n_classes_ == 11 and fitted.image_shape_ == (3, 27, 29)
    pred = fitted.predict(Xt)
    assert pred.shape == (12, 27, 29) and pred.dtype == np.int64
    proba = fitted.predict_proba(Xt)
    assert proba.shape == (12, 11, 27, 29)
    assert np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert np.array_equal(proba.argmax(axis=1), pred)
    # flat rows of the same images give the same masks
    assert np.array_equal(fitted.predict(Xt.reshape(12, -1)), pred)
    # score is the mean IoU of segmentation_metrics
    assert fitted.score(Xt, Mt) == pytest.approx(segmentation_metrics(Mt, pred, 11)["miou"])
    assert len(fitted.history_) == 2 and "accuracy" in fitted.history_[0]
    assert fitted.class_weight_[0] < 1 < fitted.class_weight_[1:].max()  # background down


def test_estimator_conventions(fitted):
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError

    est = aekit.ConvSegmenter(channels=(4,), epochs=1)
    assert clone(est).get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        est.predict(np.zeros((1, 1, 4, 4)))
    assert aekit.ConvSegmenter(channels=(3,)).set_params(epochs=3).epochs == 3
    X = np.random.default_rng(0).random((6, 1, 4, 4)).astype(np.float32)
    M = (X[:, 0] > 0.5).astype(np.int64)
    assert est.fit(X, M) is est and est.n_classes_ == 2
    with pytest.raises(ConfigError, match="decoder"):
        aekit.ConvSegmenter(decoder="bilinear").fit(X, M)
    with pytest.raises(ConfigError, match="class_weight"):
        aekit.ConvSegmenter(class_weight="balanced").fit(X, M)
    with pytest.raises(DataError, match="row 0 .*label 2.*n_classes=2"):
        aekit.ConvSegmenter(channels=(2,), n_classes=2, epochs=1).fit(X, M * 2)
    with pytest.raises(DataError, match=r"shape \(6, 4, 4\)"):
        est.fit(X, M[:, :3])
    with pytest.raises(DataError, match="no image shape"):
        est.fit(X.reshape(6, -1)[:, :15], M)  # 15 values: not an image


def test_the_fitted_core_refuses_to_reconstruct(fitted, rgb_scenes):
    _, (Xt, _) = rgb_scenes
    with pytest.raises(ConfigError, match="segmentation model"):
        fitted.fitted_.reconstruct(Xt)
    assert fitted.fitted_.encode(Xt).shape == (12, fitted.n_components_)


def test_save_load_round_trip_identical_predictions(fitted, rgb_scenes, tmp_path):
    _, (Xt, _) = rgb_scenes
    fitted.save(tmp_path / "m")
    loaded = aekit.load(tmp_path / "m")
    assert type(loaded) is aekit.ConvSegmenter
    assert loaded.get_params() == fitted.get_params()
    assert np.array_equal(loaded.class_weight_, fitted.class_weight_)
    assert np.array_equal(loaded.predict(Xt), fitted.predict(Xt))
    assert np.array_equal(loaded.predict_proba(Xt), fitted.predict_proba(Xt))
    # the bare fitted model of the folder gives the same masks
    from aekit.fitted import FittedAutoencoder

    assert np.array_equal(FittedAutoencoder.load(tmp_path / "m").segment(Xt), fitted.predict(Xt))


def test_damaged_state_is_refused(fitted, tmp_path):
    from aekit.errors import ModelFileError

    fitted.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["estimator"]["state"]["n_classes_"] = 4
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="n_classes_"):
        aekit.load(tmp_path / "m")


def test_resume_refuses_a_checkpoint_of_another_run(rgb_scenes, tmp_path):
    (X, M), _ = rgb_scenes
    kw = dict(channels=(4, 6), batch_size=16, random_state=0, lr_schedule=None)
    aekit.ConvSegmenter(epochs=1, **kw).fit(X, M, checkpoint_dir=tmp_path / "ck")
    assert (tmp_path / "ck").is_dir()
    with pytest.raises(ConfigError, match="different run"):
        aekit.ConvSegmenter(epochs=2, **{**kw, "channels": (4, 7)}).fit(
            X, M, checkpoint_dir=tmp_path / "ck", resume=True)
    with pytest.raises(ConfigError, match="different run"):  # other masks
        aekit.ConvSegmenter(epochs=2, **kw).fit(X, np.roll(M, 1, axis=0),
                                                checkpoint_dir=tmp_path / "ck", resume=True)


SEG_RUN = ["--model", "segmenter", "--data", "scenes:digits:n=64,canvas=16", "--channels",
           "4,6", "--epochs", "4", "--batch-size", "16", "--random-state", "0",
           "--no-report"]


@pytest.mark.slow
def test_cli_resume_after_sigkill_is_bit_identical(tmp_path, train_killed_at):
    """Killed after its 2nd checkpoint, the run resumes to the weights and history of an
    uninterrupted one."""
    from safetensors.torch import load_file

    ref, run = tmp_path / "ref", tmp_path / "run"
    assert main(["train", *SEG_RUN, "--out", str(ref)]) == 0
    train_killed_at(SEG_RUN, run, 2, tmp_path / "flag")
    assert not (run / "model").exists()
    assert main(["train", *SEG_RUN, "--out", str(run), "--resume"]) == 0
    a = load_file(str(ref / "model" / "model.safetensors"))
    b = load_file(str(run / "model" / "model.safetensors"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    h = [json.loads((d / "history.json").read_text()) for d in (ref, run)]
    assert [r["loss"] for r in h[0]] == [r["loss"] for r in h[1]]


@pytest.mark.parametrize("decoder", ["unpool", "transpose", "upsample"])
def test_every_decoder_trains_through_the_loop(decoder, rgb_scenes):
    (X, M), _ = rgb_scenes
    est = aekit.ConvSegmenter(channels=(4, 6), decoder=decoder, epochs=1, batch_size=16,
                              random_state=0, validation_fraction=0.25).fit(X, M)
    assert est.module_.config.decoder == decoder
    assert "val_loss" in est.history_[0] and np.isfinite(est.history_[0]["loss"])


@pytest.mark.slow
def test_segmenter_learns_digit_scenes():
    """On 32x32 digit scenes a short training (300 steps) finds the objects - which pixels
    are digits - and starts telling classes apart: better than predicting background
    everywhere. (Telling the ten digits apart takes far longer: the benchmark.)"""
    tr = load("scenes:digits:n=600")
    te = load("scenes:digits:n=600", split="test")
    est = aekit.ConvSegmenter(channels=(16, 32), epochs=8, random_state=0).fit(tr.X, tr.y)
    pred = est.predict(te.X)
    m = segmentation_metrics(te.y, pred, 11)
    nothing = segmentation_metrics(te.y, np.zeros_like(te.y), 11)
    background = float((te.y == 0).mean())  # 0.95: what "all background" scores
    assert np.mean((pred > 0) == (te.y > 0)) > background + 0.01  # objects found
    assert m["miou"] > nothing["miou"] and m["boundary_f1"] > nothing["boundary_f1"]
    assert est.history_[-1]["loss"] < est.history_[0]["loss"]


# --- seams: CLI, folder, report ----------------------------------------------------------------
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("seg") / "run"
    assert main(["train", "--model", "segmenter", "--data", "scenes:digits:n=60,canvas=16",
                 "--channels", "4,6", "--epochs", "2", "--random-state", "0", "--out",
                 str(out)]) == 0
    return out


def test_cli_train_writes_metrics_and_report(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    est = aekit.load(run_dir)
    te = load("scenes:digits:n=60,canvas=16", split="test")
    expected = segmentation_metrics(te.y, est.predict(te.X), 11)
    for key in ("global_accuracy", "class_accuracy", "miou", "boundary_f1"):
        assert metrics["model"][key] == pytest.approx(expected[key])
    html = (run_dir / "report" / "index.html").read_text()
    assert "per-class IoU" in html and "Masks" in html and "Trouser" not in html
    assert html.count("<img") >= 2  # training curves and the overlays


def test_cli_segment_and_evaluate_match_the_estimator(run_dir, tmp_path, capsys):
    data = "scenes:digits:n=60,canvas=16"
    assert main(["segment", str(run_dir), "--data", data, "--out", str(tmp_path / "m.npy"),
                 "--png", str(tmp_path / "o.png")]) == 0
    te = load(data, split="test")
    est = aekit.load(run_dir)
    assert np.array_equal(np.load(tmp_path / "m.npy"), est.predict(te.X))
    assert (tmp_path / "o.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--data", data, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"]["miou"] == pytest.approx(est.score(te.X, te.y))
    assert out["model"]["class_names"][0] == "background"
    # outputs are never written over without --force
    assert main(["segment", str(run_dir), "--data", data, "--out", str(tmp_path / "m.npy")]) == 2
    assert "--force" in capsys.readouterr().err


def test_cli_refuses_data_without_masks_and_non_segmenters(tmp_path, capsys):
    assert main(["train", "--model", "segmenter", "--data", "digits", "--epochs", "1",
                 "--out", str(tmp_path / "r")]) == 2
    assert "per-pixel labels" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_cli_trains_on_a_user_folder_with_masks(tmp_path, capsys):
    write_masked_folder(tmp_path / "set", n=15)
    out = tmp_path / "run"
    assert main(["train", "--model", "segmenter", "--data", str(tmp_path / "set"),
                 "--channels", "4", "--epochs", "1", "--out", str(out), "--no-report"]) == 0
    est = aekit.load(out)
    assert est.image_shape_ == (3, 27, 29)
    metrics = json.loads((out / "metrics.json").read_text())
    test = load(tmp_path / "set", split="test")
    assert metrics["model"]["miou"] == pytest.approx(est.score(test.X, test.y))
    bad = tmp_path / "bad"
    write_masked_folder(bad, n=15)
    Image.new("L", (5, 5)).save(bad / "masks" / "s07.png")
    capsys.readouterr()
    assert main(["train", "--model", "segmenter", "--data", str(bad), "--epochs", "1",
                 "--out", str(tmp_path / "r2")]) == 2
    assert "s07.png" in capsys.readouterr().err


def test_report_has_overlays_and_iou_table(fitted, rgb_scenes, tmp_path):
    from aekit.report import build_report

    _, (Xt, Mt) = rgb_scenes
    report = build_report(fitted, Xt, Xt, y_test=Mt, class_names=["bg", *"0123456789"])
    m = report.results["model"]
    assert m["miou"] == pytest.approx(fitted.score(Xt, Mt))
    page = report.save(tmp_path / "rep")
    html = (page if page.is_file() else page / "index.html").read_text()
    assert "per-class IoU" in html and "bg" in html and "<img" in html


def test_the_segmenter_builds_segnet_blocks(fitted, tmp_path):
    cfg = fitted.module_.config
    assert (cfg.decoder_convs, cfg.head_kernel) == (2, 3)
    fitted.save(tmp_path / "m")
    again = aekit.load(tmp_path / "m")
    assert (again.module_.config.decoder_convs, again.module_.config.head_kernel) == (2, 3)
