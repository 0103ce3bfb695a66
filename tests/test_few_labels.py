"""The few-label methods (issue 30): the ladder network and M2 as AutoencoderClassifier's
``method``, their parts, and the seams (save/load, resume, generation by class, bad y)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import aekit
from aekit import AutoencoderClassifier, ConfigError, DataError
from aekit.io.rows import SemiSupervisedSource, make_source
from aekit.losses import SemiSupervisedObjective, m2_bound, m2_terms
from aekit.models import build_model, config_from_dict
from aekit.models.semisupervised import (
    Combinator, LadderConfig, LadderNetwork, M2Config, M2Network, random_shift,
)


@pytest.fixture(scope="module")
def digits_few():
    """400 digits rows with 40 labels (4 per class), and 200 test rows."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    rng = np.random.RandomState(0)
    order = rng.permutation(len(X))
    tr, te = order[:400], order[400:600]
    labels = np.full(400, -1)
    for c in range(10):
        labels[np.flatnonzero(y[tr] == c)[:4]] = c
    return X[tr], labels, X[te], y[te]


SMALL = {"hidden_layer_sizes": (64, 32), "joint_epochs": 20, "batch_size": 32, "random_state": 0}


@pytest.fixture(scope="module")
def fitted(digits_few):
    X, y, _, _ = digits_few
    return {m: AutoencoderClassifier(method=m, **SMALL).fit(X, y) for m in ("ladder", "m2")}


# --- the parts -------------------------------------------------------------------------------
def test_combinator_formula():
    """Rasmus et al. eq. 2 (the paper's initial a gives the estimate 0; training moves a),
    checked on numbers with every a_i set."""
    g = Combinator(3)
    z, u = torch.tensor([[1.0, -2.0, 0.5]]), torch.tensor([[0.0, 1.0, -1.0]])
    torch.testing.assert_close(g(z, u), torch.zeros_like(z))
    with torch.no_grad():
        g.a.copy_(torch.linspace(-1, 1, 30).reshape(10, 3))
    a = g.a.detach()
    mu = a[0] * torch.sigmoid(a[1] * u + a[2]) + a[3] * u + a[4]
    v = a[5] * torch.sigmoid(a[6] * u + a[7]) + a[8] * u + a[9]
    torch.testing.assert_close(g(z, u), (z - mu) * v + mu)
    with torch.no_grad():
        g.a.zero_()
        g.a[4] = 2.0  # mu = a5 = 2, v = 0: the estimate is mu alone
    torch.testing.assert_close(g(z, u), torch.full_like(z, 2.0))


def test_random_shift_moves_pixels_and_zero_shift_is_identity():
    x = torch.arange(16.0).reshape(1, 16)
    torch.testing.assert_close(random_shift(x, (1, 4, 4), 0), x)
    g = torch.Generator().manual_seed(0)
    out = random_shift(x.repeat(64, 1), (1, 4, 4), 1, g)
    # every output is the image moved by at most one pixel: its non-zero values are a
    # subset of the input's, in the same relative order along a row
    assert out.shape == (64, 16)
    seen = {tuple(o.tolist()) for o in out}
    assert 2 <= len(seen) <= 9  # at most (2*1+1)^2 distinct shifts
    assert tuple(x[0].tolist()) in seen or len(seen) == 9
    for o in out:
        assert set(o[o != 0].tolist()) <= set(range(16))


def test_semi_supervised_source_pairs_each_row_with_a_labelled_one():
    X = torch.arange(20.0).reshape(10, 2)
    src = SemiSupervisedSource(make_source(X), make_source(X[:3]), torch.tensor([0, 1, 2]))
    x, xl, yl = src.batch(torch.tensor([9, 4, 5]))
    torch.testing.assert_close(x, X[[9, 4, 5]])
    torch.testing.assert_close(xl, X[:3][[0, 1, 2]])  # 9 % 3, 4 % 3, 5 % 3
    assert yl.tolist() == [0, 1, 2]
    with pytest.raises(DataError):
        SemiSupervisedSource(make_source(X), make_source(X[:2]), torch.tensor([0, 1, 2]))


@pytest.mark.parametrize("config", [
    LadderConfig(n_features=6, n_classes=3, hidden=(5, 4)),
    M2Config(n_features=6, n_classes=3, hidden=(5,), code_size=2),
])
def test_configs_round_trip_and_build(config):
    back = config_from_dict(config.to_dict())
    assert back == config
    module = build_model(config.to_dict(), seed=0)
    assert type(module) is (LadderNetwork if isinstance(config, LadderConfig) else M2Network)
    assert config.parameter_count() == sum(p.numel() for p in module.parameters())
    terms = SemiSupervisedObjective()(
        module, (torch.rand(8, 6), torch.rand(4, 6), torch.tensor([0, 1, 2, 0])),
        generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(terms["loss"]) and terms["loss"] > 0
    terms["loss"].backward()
    assert all(p.grad is not None for p in module.parameters())


@pytest.mark.parametrize("bad, match", [
    ({"denoising_costs": [1.0]}, "denoising_costs"),
    ({"noise_std": -1.0}, "noise_std"),
    ({"n_classes": 1}, "n_classes"),
    ({"shift": 2}, "shift"),
    ({"network": "ladder2"}, "unknown network"),
])
def test_ladder_config_refuses_bad_values(bad, match):
    d = {**LadderConfig(n_features=6, n_classes=3, hidden=(5,)).to_dict(), **bad}
    with pytest.raises(ConfigError, match=match):
        config_from_dict(d)


def test_m2_unlabelled_bound_is_the_class_sum():
    """Kingma et al. eq. 7: U(x) = sum_y q(y|x) L(x, y) - H(q(y|x)), L being -ELBO; with a
    fixed noise draw per class, the terms match a direct computation."""
    torch.manual_seed(0)
    m = M2Network(M2Config(n_features=4, n_classes=3, hidden=(6,), code_size=2))
    x, xl, yl = torch.rand(5, 4), torch.rand(2, 4), torch.tensor([0, 2])
    t = m2_terms(m, (x, xl, yl), generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(1)
    labelled = m2_bound(m, xl, yl, g)
    ys = torch.arange(3).repeat_interleave(5)
    per_class = m2_bound(m, x.repeat(3, 1), ys, g).reshape(3, 5).T
    q = torch.softmax(m.classifier(x), dim=1)
    expected = ((q * per_class).sum(1) + (q * q.log()).sum(1)).mean()
    torch.testing.assert_close(t["unlabelled_bound"], expected)
    torch.testing.assert_close(t["labelled_bound"], labelled.mean())


# --- the estimator ---------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["ladder", "m2"])
def test_methods_learn_from_few_labels(fitted, digits_few, method):
    _, _, Xte, yte = digits_few
    clf = fitted[method]
    acc = float(np.mean(clf.predict(Xte) == yte))
    assert acc > 0.6, acc  # 40 labels, 20 short epochs: far above chance (0.1)
    proba = clf.predict_proba(Xte)
    assert proba.shape == (len(Xte), 10)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-9)
    assert clf.n_labelled_ == 40 and clf.n_pseudo_labelled_ == 0
    assert clf.head_ is None and len(clf.history_) == 20


@pytest.mark.parametrize("method", ["ladder", "m2"])
def test_methods_save_and_load(fitted, digits_few, tmp_path, method):
    _, _, Xte, _ = digits_few
    clf = fitted[method]
    clf.save(tmp_path / "m")
    back = aekit.load(tmp_path / "m")
    assert type(back) is AutoencoderClassifier and back.method == method
    np.testing.assert_array_equal(back.predict_proba(Xte), clf.predict_proba(Xte))
    np.testing.assert_array_equal(back.encode(Xte), clf.encode(Xte))
    fitted_only = aekit.fitted.FittedModel.load(tmp_path / "m")
    assert isinstance(fitted_only, aekit.fitted.FittedClassifier)
    np.testing.assert_array_equal(fitted_only.classify(Xte), clf.predict_proba(Xte))


def test_m2_generates_by_class(fitted):
    clf = fitted["m2"]
    rows = clf.sample(6, y=3, random_state=0)
    assert rows.shape == (6, 64) and rows.dtype == np.float32
    assert (rows >= 0).all() and (rows <= 1).all()  # Bernoulli means
    np.testing.assert_array_equal(rows, clf.sample(6, y=3, random_state=0))
    assert not np.array_equal(rows, clf.sample(6, y=4, random_state=0))
    mixed = clf.sample(3, y=[1, 2, 3], random_state=0)
    assert mixed.shape == (3, 64)
    # the class decides: one z decoded under every class gives ten different rows
    z = np.zeros((10, clf.n_components_), np.float32)
    grid = clf.fitted_.decode(z, list(range(10)))
    assert len({r.tobytes() for r in grid}) == 10
    with pytest.raises(DataError, match="class 11"):
        clf.sample(2, y=11)
    with pytest.raises(DataError, match="2 labels for 3"):
        clf.fitted_.decode(np.zeros((3, clf.n_components_)), [1, 2])


def test_m2_string_labels(digits_few):
    X, y, Xte, _ = digits_few
    names = np.array([f"d{v}" for v in range(10)] + ["?"], dtype=object)
    ys = np.where(y >= 0, names[y], -1).astype(object)
    clf = AutoencoderClassifier(method="m2", hidden_layer_sizes=(16,), joint_epochs=1,
                                random_state=0).fit(X, ys)
    assert set(clf.predict(Xte[:20])) <= set(names[:10])
    assert clf.sample(2, y="d7", random_state=0).shape == (2, 64)
    with pytest.raises(DataError, match="'d12'"):
        clf.sample(1, y="d12")


def test_ladder_does_not_generate(fitted):
    with pytest.raises(ConfigError, match="method='m2'"):
        fitted["ladder"].sample(2, y=1)


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "ladder", "n_components": 5}, "n_components"),
    ({"method": "ladder", "hidden_layer_sizes": ()}, "hidden_layer_sizes"),
    ({"method": "pca"}, "method"),
    ({"method": "ladder", "ladder_noise": -0.1}, "ladder_noise"),
    ({"method": "m2", "labelled_weight": 0}, "labelled_weight"),
    ({"method": "m2", "joint_epochs": -1}, "joint_epochs"),
])
def test_bad_options_are_named(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        AutoencoderClassifier(**kwargs).validate_params()


@pytest.mark.parametrize("method", ["ladder", "m2"])
def test_bad_labels(digits_few, method):
    X, y, _, _ = digits_few
    one_class = np.where(y == 3, 3, -1)
    with pytest.raises(DataError, match="at least 2 classes"):
        AutoencoderClassifier(method=method, **SMALL).fit(X, one_class)
    with pytest.raises(DataError, match="unlabelled"):
        AutoencoderClassifier(method=method, **SMALL).fit(X, np.full(len(X), -1))
    nan = y.astype(float)
    nan[5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        AutoencoderClassifier(method=method, **SMALL).fit(X, nan)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ladder", "m2"])
def test_all_rows_labelled_trains_as_a_supervised_model(digits_few, method):
    """Every row labelled (no -1): the unlabelled part of each batch is the labelled rows,
    and the default fit learns them (9 s for the ladder: 1000 steps)."""
    _, _, Xte, yte = digits_few
    Xs, ys = Xte[:100], yte[:100]
    clf = AutoencoderClassifier(method=method, random_state=0).fit(Xs, ys)
    assert clf.n_labelled_ == 100
    assert np.mean(clf.predict(Xs) == ys) > 0.9


def test_labels_for_some_classes_only(digits_few):
    """The model knows the classes it saw labelled: predictions never name another."""
    X, y, Xte, _ = digits_few
    some = np.where(np.isin(y, [0, 1, 2]), y, -1)
    clf = AutoencoderClassifier(method="ladder", **{**SMALL, "joint_epochs": 2}).fit(X, some)
    assert clf.classes_.tolist() == [0, 1, 2]
    assert set(clf.predict(Xte)) <= {0, 1, 2}


def _ctrl_c_default():
    """Popen's preexec_fn: the child's SIGINT back to its default (a suite started as a
    background job leaves it ignored)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ladder", "m2"])
def test_sigkill_then_resume_is_bit_exact(tmp_path, method, wait_for_handshake):
    """aekit train killed (SIGKILL) after epoch 1's checkpoint, then --resume: the final
    weights equal an uninterrupted run's, bit for bit (the pairing of labelled rows follows
    from the shuffled indices alone; the cosine schedule and RNG are checkpointed)."""
    import os
    import signal
    import subprocess
    import sys

    from safetensors.torch import load_file

    def start(out, *extra, pause_at=None):
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        if pause_at is not None:
            env.update(AEKIT_TEST_PAUSE_AT=str(pause_at),
                       AEKIT_TEST_PAUSE_FILE=str(out.with_name(out.name + ".flag")))
        cmd = [sys.executable, "-m", "aekit", "train", "--model", "classifier", "--method",
               method, "--data", "digits", "--max-rows", "200", "--n-labelled", "30",
               "--epochs", "3", "--hidden-layer-sizes", "16", "--random-state", "0",
               "--no-report", "--out", str(out), *extra]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env, preexec_fn=_ctrl_c_default)

    ref, killed_out = tmp_path / "ref", tmp_path / "killed"
    reference, killed = start(ref), start(killed_out, pause_at=1)
    try:
        wait_for_handshake(killed, killed_out.with_name(killed_out.name + ".flag"))
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=60)
        assert killed.returncode == -signal.SIGKILL
        assert not (killed_out / "model").exists()
        _, err = reference.communicate(timeout=300)
        assert reference.returncode == 0, err
    finally:
        for proc in (reference, killed):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    resumed = start(killed_out, "--resume")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    a, b = load_file(ref / "model" / "model.safetensors"), \
        load_file(killed_out / "model" / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("method", ["ladder", "m2"])
def test_onnx_classifier_parity(fitted, digits_few, tmp_path, method):
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort

    from aekit.fitted.onnx import read_metadata

    _, _, Xte, _ = digits_few
    clf = fitted[method]
    path = clf.export_onnx(tmp_path / "c.onnx")  # the model's own part: 'classifier'
    sess = ort.InferenceSession(str(path))
    logits, proba = sess.run(None, {"x": Xte.astype(np.float32)})
    np.testing.assert_allclose(proba, clf.predict_proba(Xte), atol=1e-5)
    meta = read_metadata(path)
    assert meta["part"] == "classifier" and meta["classes"] == list(range(10))
    with pytest.raises(ConfigError, match="classifier only"):
        clf.export_onnx(tmp_path / "e.onnx", part="encoder")


# --- the command line --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def m2_run(tmp_path_factory):
    from aekit.cli import main

    out = tmp_path_factory.mktemp("runs") / "m2"
    assert main(["train", "--model", "classifier", "--method", "m2", "--data", "digits",
                 "--max-rows", "300", "--n-labelled", "50", "--epochs", "3",
                 "--hidden-layer-sizes", "32", "--random-state", "0", "--out", str(out),
                 "--no-report"]) == 0
    return out


def test_cli_m2_trains_evaluates_and_generates_by_label(m2_run, tmp_path, capsys):
    import json

    from aekit.cli import main
    from aekit.datasets import load

    capsys.readouterr()
    clf = aekit.load(m2_run)
    assert clf.method == "m2" and clf.n_labelled_ == 50 and clf.epochs_ == 3
    test = load("digits", split="test")
    assert main(["evaluate", str(m2_run), "--data", "digits", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["accuracy"]
    assert got == float(np.mean(clf.predict(test.X) == test.y))
    out = tmp_path / "s.npy"
    assert main(["generate", str(m2_run), "-n", "5", "--label", "7", "--out", str(out),
                 "--seed", "3"]) == 0
    np.testing.assert_array_equal(np.load(out), clf.sample(5, y=7, random_state=3))


def test_cli_generate_label_errors(m2_run, run_dir_stacked, tmp_path, capsys):
    from aekit.cli import main

    capsys.readouterr()
    out = tmp_path / "s.npy"
    assert main(["generate", str(m2_run), "--label", "12", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--label 12" in err[0] and "0, 1, 2" in err[0]
    assert main(["generate", str(run_dir_stacked), "--label", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--label" in err[0]
    assert not out.exists()


@pytest.fixture(scope="module")
def run_dir_stacked(tmp_path_factory):
    from aekit.cli import main

    out = tmp_path_factory.mktemp("runs") / "stacked"
    assert main(["train", "--model", "stacked", "--data", "digits", "--max-rows", "100",
                 "--epochs", "1", "--out", str(out), "--no-report"]) == 0
    return out


# --- the report ------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["ladder", "m2"])
def test_report_sections(fitted, digits_few, method):
    from aekit.report import build_report

    X, y, Xte, yte = digits_few
    clf = fitted[method]
    report = build_report(clf, X, Xte, y_train=y, y_test=yte, history=clf.history_,
                          image_shape=(1, 8, 8))
    titles = [s.title for s in report.sections]
    assert "Accuracy with the labels used" in titles and "Confusion matrix" in titles
    assert "Test rows by predicted class" in titles
    assert ("Generated by class" in titles and "Style transfer" in titles) == (method == "m2")
    assert report.results["model"]["accuracy"] == float(np.mean(clf.predict(Xte) == yte))
    base = report.results["baselines"]
    assert base["labelled"] == 40 and 0 < base["logreg_raw"] < 1


def test_confusion_matrix_counts():
    from aekit.plotting import confusion_matrix

    m = confusion_matrix([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], [0, 1, 2])
    assert m.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    assert confusion_matrix(["a", "b"], ["b", "b"], ["a", "b"]).tolist() == [[0, 1], [0, 1]]


@pytest.mark.slow
def test_cli_report_of_m2(tmp_path):
    from aekit.cli import main

    out = tmp_path / "m2"
    assert main(["train", "--model", "classifier", "--method", "m2", "--data", "digits",
                 "--max-rows", "300", "--n-labelled", "50", "--epochs", "2",
                 "--hidden-layer-sizes", "16", "--random-state", "0", "--out", str(out)]) == 0
    html = (out / "report" / "index.html").read_text()
    for title in ("Accuracy with the labels used", "Confusion matrix", "Generated by class",
                  "Style transfer"):
        assert title in html
