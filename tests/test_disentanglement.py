"""Issue 31, item 5 (its metrics and data): procedural sprites with known factors
(aekit.datasets.make_sprites) and the disentanglement metrics MIG, the FactorVAE score and
DCI (aekit.evaluation.disentanglement), with the standard checks that need no model:
the factors themselves as codes score at the top, constant or random codes near zero."""

from __future__ import annotations

import numpy as np
import pytest

from aekit.datasets import make_sprites, sprites_from_factors
from aekit.datasets.sprites import FACTORS, LEVELS, sample_factors
from aekit.errors import ConfigError, DataError
from aekit.evaluation import dci, disentanglement_metrics, factor_vae_score, mig


@pytest.fixture(scope="module")
def sprites():
    return make_sprites(1000, size=32, random_state=0)


def test_sprites_are_their_factors_drawn(sprites):
    assert sprites.images.shape == (1000, 1, 32, 32) and sprites.X.shape == (1000, 1024)
    assert set(np.unique(sprites.images)) == {0.0, 1.0}
    for j, name in enumerate(FACTORS):
        assert sprites.factors[:, j].min() >= 0 and sprites.factors[:, j].max() < LEVELS[name]
        assert len(np.unique(sprites.factors[:, j])) == LEVELS[name]  # every level drawn
    np.testing.assert_array_equal(sprites_from_factors(sprites.factors[:50]),
                                  sprites.images[:50])
    np.testing.assert_array_equal(make_sprites(1000, random_state=0).factors,
                                  sprites.factors)  # seeded
    # each factor changes the image: moving x moves the shape's centre of mass
    f = np.array([[0, 5, 0, 0, 16], [0, 5, 0, 31, 16]])
    a, b = sprites_from_factors(f)
    cols = np.arange(32)
    assert (a[0].sum(0) * cols).sum() / a.sum() < (b[0].sum(0) * cols).sum() / b.sum() - 10
    bigger = sprites_from_factors(np.array([[1, 0, 0, 16, 16], [1, 5, 0, 16, 16]]))
    assert bigger[0].sum() < bigger[1].sum()
    shapes = sprites_from_factors(np.array([[s, 5, 0, 16, 16] for s in range(3)]))
    assert len({im.tobytes() for im in shapes}) == 3


@pytest.mark.parametrize("bad, match", [
    (np.array([[3, 0, 0, 0, 0]]), "row 0: shape"), (np.array([[0, 0, 0, 0]]), r"\(n, 5\)"),
    (np.array([[0, 0, 40, 0, 0]]), "rotation")])
def test_bad_factors_are_refused_naming_them(bad, match):
    with pytest.raises(ConfigError, match=match):
        sprites_from_factors(bad)
    with pytest.raises(ConfigError, match="size"):
        sprites_from_factors(np.zeros((1, 5), int), size=8)


def test_mig_no_data_checks(sprites):
    f = sprites.factors
    rng = np.random.default_rng(0)
    assert mig(f.astype(float), f) >= 0.9  # identity codes
    assert mig(np.zeros((len(f), 5)), f) <= 0.2  # constant codes
    assert mig(rng.normal(size=(len(f), 10)), f) <= 0.1  # codes that know nothing
    mixed = f.astype(float) @ rng.normal(size=(5, 5))  # every unit mixes every factor
    assert mig(mixed, f) < 0.5 * mig(f.astype(float), f)
    # one extra unit duplicating a factor halves nothing but that factor's gap
    dup = np.column_stack([f, f[:, 0]]).astype(float)
    assert mig(dup, f) == pytest.approx(0.8 * mig(f.astype(float), f), abs=0.05)
    with pytest.raises(DataError, match="same rows"):
        mig(np.zeros((5, 2)), f)


def test_dci_no_data_checks(sprites):
    f, rng = sprites.factors, np.random.default_rng(0)
    ident = dci(f.astype(float), f)
    assert ident["disentanglement"] >= 0.9 and ident["completeness"] >= 0.9
    assert ident["informativeness"] >= 0.95
    rand = dci(rng.normal(size=(len(f), 10)), f)
    assert rand["disentanglement"] <= 0.2 and rand["informativeness"] <= 0.4
    assert ident["importance"].shape == (5, 5)
    assert np.argmax(ident["importance"], axis=0).tolist() == [0, 1, 2, 3, 4]


def test_factor_vae_score_no_data_checks():
    rng = np.random.default_rng(0)
    ident = factor_vae_score(lambda f: f.astype(float), sample_factors, lambda f: f,
                             n_train=200, n_eval=100)
    noise = factor_vae_score(lambda f: rng.normal(size=(len(f), 10)), sample_factors,
                             lambda f: f, n_train=200, n_eval=100)
    constant = factor_vae_score(lambda f: np.zeros((len(f), 5)), sample_factors,
                                lambda f: f, n_train=200, n_eval=100)
    assert ident == 1.0 and noise <= 0.4 and constant == 0.0


@pytest.mark.slow
def test_the_metrics_of_a_fitted_model_on_sprites(sprites):
    import aekit

    est = aekit.VariationalAutoencoder(4, hidden_layer_sizes=(32,), epochs=2,
                                       random_state=0).fit(sprites.X[:1000])
    out = disentanglement_metrics(est, make_sprites(400, random_state=1), n_votes=40)
    assert set(out) == {"mig", "factor_vae", "disentanglement", "completeness",
                        "informativeness"}
    assert all(0.0 <= v <= 1.0 for v in out.values())
    # the same numbers from the estimator, its fitted model, or a saved folder
    assert disentanglement_metrics(est.fitted_, make_sprites(400, random_state=1),
                                   n_votes=40) == out


def test_sprites_as_a_data_source():
    """--data sprites[:n=N,size=S,seed=K]: a train split of n, a test split of n // 4
    (the next seed), y the shape, the five factors carried through row subsets."""
    from aekit.datasets import check_options, load
    from aekit.datasets.sprites import SHAPES

    train = load("sprites:n=40,size=16,seed=3")
    test = load("sprites:n=40,size=16,seed=3", split="test")
    assert train.X.shape == (40, 256) and test.X.shape == (10, 256)
    assert train.image_shape == (1, 16, 16) and train.classes == list(SHAPES)
    np.testing.assert_array_equal(train.y, train.factors[:, 0])
    np.testing.assert_array_equal(train.factors, make_sprites(40, 16, 3).factors)
    np.testing.assert_array_equal(test.X, make_sprites(10, 16, 4).X)
    assert load("sprites:n=40,size=16", split="all").factors.shape == (50, 5)
    head = train.head(7)
    assert head.factors.shape == (7, 5) and np.array_equal(head.factors, train.factors[:7])
    assert check_options("sprites") == "sprites"
    for bad, match in (("sprites:n=0", "n must be"), ("sprites:size=8", "size must be"),
                       ("sprites:colour=2", "unknown sprites option"),
                       ("sprites:n=x", "n must be an integer")):
        with pytest.raises(ConfigError, match=match):
            load(bad)
    with pytest.raises(ConfigError, match="sprites"):
        load("sprites", label_column=0)


@pytest.mark.slow
def test_aekit_evaluate_reports_disentanglement_where_factors_are_known(tmp_path, capsys):
    import json

    import aekit
    from aekit.cli import main
    from aekit.datasets import load

    data = "sprites:n=400,size=16"
    assert main(["train", "--model", "vae", "--data", data, "--epochs", "2",
                 "--hidden-layer-sizes", "32", "--n-components", "4", "--no-report",
                 "--random-state", "0", "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--data", data, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["disentanglement"]
    test = load(data, split="test")
    from aekit.datasets.sprites import Sprites

    expected = disentanglement_metrics(aekit.load(tmp_path / "run"),
                                       Sprites(test.X.reshape(-1, 1, 16, 16), test.factors))
    assert got == pytest.approx(expected)
    assert main(["evaluate", str(tmp_path / "run"), "--data", data]) == 0
    assert "disentanglement (known factors): MIG" in capsys.readouterr().out


@pytest.mark.slow
def test_aekit_train_on_sprites_reports_the_same_disentanglement(tmp_path):
    """With and without the report, aekit train writes the same disentanglement numbers,
    and the report has the section and its latents-by-factor figure."""
    import json

    from aekit.cli import main

    common = ["train", "--model", "vae", "--data", "sprites:n=400,size=16", "--epochs", "2",
              "--hidden-layer-sizes", "32", "--n-components", "4", "--random-state", "0",
              "--eval-rows", "100"]
    assert main([*common, "--out", str(tmp_path / "a")]) == 0
    assert main([*common, "--no-report", "--out", str(tmp_path / "b")]) == 0
    a, b = (json.loads((tmp_path / x / "metrics.json").read_text())["disentanglement"]
            for x in "ab")
    assert a == pytest.approx(b) and set(a) >= {"mig", "factor_vae", "disentanglement"}
    html = (tmp_path / "a" / "report" / "index.html").read_text()
    assert "Disentanglement" in html
    assert "each code unit&#x27;s mean at each level of each factor" in html or \
        "each code unit's mean at each level of each factor" in html
