"""LinearAutoencoder(solver='svd'|'auto'): the MSE minimum in closed form, equal to PCA,
through every entry point (estimator, streamed file, saved folder, the CLI)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

import aekit
from aekit.cli import main
from aekit.errors import ConfigError
from aekit.estimators import LinearAutoencoder
from aekit.training.closed_form import principal_subspace

X = (load_digits().data / 16).astype(np.float32)
TRAIN, TEST = X[:1200], X[1200:]


def pca_recon(k, A, B):
    p = PCA(k).fit(A)
    return p, p.inverse_transform(p.transform(B))


@pytest.mark.parametrize("tied", [False, True])
def test_default_solve_is_pca_exactly(tied):
    est = LinearAutoencoder(8, tied=tied, random_state=0).fit(TRAIN)
    assert est.solver_ == "svd" and len(est.history_) == 1
    p, R = pca_recon(8, TRAIN, TEST)
    np.testing.assert_allclose(est.reconstruct(TEST), R, atol=2e-5)
    # The codes are PCA's scores, ordered by variance (sign: largest entry positive).
    np.testing.assert_allclose(np.abs(est.transform(TEST)), np.abs(p.transform(TEST)),
                               atol=2e-5)
    # The recorded loss is the training MSE, as computed from the eigenvalues.
    train_mse = float(np.mean((est.reconstruct(TRAIN) - TRAIN) ** 2))
    assert est.history_[0]["loss"] == pytest.approx(train_mse, rel=1e-4)


def test_solve_is_exact_where_gradient_training_is_not():
    svd = LinearAutoencoder(8, random_state=0).fit(TRAIN)
    grad = LinearAutoencoder(8, solver="gradient", epochs=5, random_state=0).fit(TRAIN)
    assert grad.solver_ == "gradient" and len(grad.history_) == 5
    err = lambda est: float(np.mean((est.reconstruct(TRAIN) - TRAIN) ** 2))  # noqa: E731
    _, R = pca_recon(8, TRAIN, TRAIN)
    assert err(svd) == pytest.approx(float(np.mean((R - TRAIN) ** 2)), rel=1e-4)
    assert err(grad) > err(svd) * 1.001  # 5 epochs do not reach the minimum


def test_a_large_offset_loses_no_precision():
    a = LinearAutoencoder(6).fit(TRAIN)
    b = LinearAutoencoder(6).fit(TRAIN.astype(np.float64) + 1e4)
    weight = lambda est: est.fitted_.module.encoder.layers[0].weight.detach().numpy()  # noqa
    np.testing.assert_allclose(weight(b), weight(a), atol=2e-3)


def test_principal_subspace_reads_blocks_once_and_matches_one_block():
    blocks = [TRAIN[i:i + 100] for i in range(0, len(TRAIN), 100)]
    m1, c1, e1 = principal_subspace(iter(blocks), 5)
    m2, c2, e2 = principal_subspace([TRAIN], 5)
    np.testing.assert_allclose(m1, m2, atol=1e-9)
    np.testing.assert_allclose(c1, c2, atol=1e-7)
    assert e1 == pytest.approx(e2, rel=1e-9)
    with pytest.raises(ValueError, match="no rows"):
        principal_subspace([], 2)


def test_streamed_file_solves_to_the_same_model(tmp_path):
    np.save(tmp_path / "x.npy", TRAIN)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    a = LinearAutoencoder(8).fit(mapped)
    b = LinearAutoencoder(8).fit(TRAIN)
    assert a.solver_ == "svd"
    np.testing.assert_allclose(a.reconstruct(TEST), b.reconstruct(TEST), atol=1e-5)


def test_saved_folder_keeps_the_solver_and_the_numbers(tmp_path):
    est = LinearAutoencoder(8, random_state=0).fit(TRAIN)
    back = aekit.load(est.save(tmp_path / "m"))
    assert back.solver_ == "svd"
    np.testing.assert_array_equal(back.reconstruct(TEST), est.reconstruct(TEST))


@pytest.mark.parametrize("kw, name", [
    ({"epochs": 3}, "epochs"),
    ({"weight_decay": 1e-4}, "weight_decay"),
    ({"validation_fraction": 0.2}, "validation_fraction"),
    ({"early_stopping": 2}, "early_stopping"),
])
def test_auto_trains_by_gradient_when_asked_for_epochs_and_svd_refuses(kw, name):
    est = LinearAutoencoder(4, random_state=0, **kw).fit(TRAIN[:300])
    assert est.solver_ == "gradient"
    with pytest.raises(ConfigError, match=f"solver='svd' does not apply with {name}="):
        LinearAutoencoder(4, solver="svd", **kw).fit(TRAIN[:300])


def test_more_components_than_features_falls_back_or_is_refused():
    Xs = TRAIN[:200, :6]
    assert LinearAutoencoder(8, random_state=0).fit(Xs).solver_ == "gradient"
    with pytest.raises(ConfigError, match="n_components=8 exceeds the 6 features"):
        LinearAutoencoder(8, solver="svd").fit(Xs)


def test_partial_fit_after_the_solve_takes_gradient_steps():
    est = LinearAutoencoder(8, random_state=0).fit(TRAIN)
    before = est.reconstruct(TEST)
    est.partial_fit(TRAIN)
    assert est.solver_ == "svd" and len(est.history_) == 2 and "lr" in est.history_[1]
    after = est.reconstruct(TEST)
    assert not np.array_equal(before, after)
    fresh = LinearAutoencoder(8, random_state=0).partial_fit(TRAIN)
    assert fresh.solver_ == "gradient"


def test_cli_trains_with_the_solver_and_refuses_a_bad_one(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", "linear", "--n-components", "8", "--data", "digits",
                 "--solver", "svd", "--out", str(out), "--no-report"]) == 0
    assert aekit.load(out / "model").solver_ == "svd"
    assert "solved exactly (solver 'svd')" in capsys.readouterr().out
    assert main(["train", "--model", "linear", "--solver", "lstsq", "--data", "digits",
                 "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "solver 'lstsq' is not one of" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()
