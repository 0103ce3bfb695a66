"""PCA vs an undercomplete linear autoencoder (Géron's 3-D toy data), and whether
non-linearity helps on the tour's dataset."""

from __future__ import annotations

import numpy as np
from scipy.linalg import subspace_angles

from aekit import applications as app
from aekit import evaluation as ev
from aekit.plotting import new_figure, plot_reconstructions
from aekit.tour.helpers import fmt


def generate_3d_data(m: int, w1: float = 0.1, w2: float = 0.3, noise: float = 0.1,
                     random_state=0) -> np.ndarray:
    """Points near a curved 2-D sheet in 3-D (the textbook's recipe), as (m, 3) float32,
    with an explicit generator instead of the global numpy seed."""
    rng = np.random.default_rng(random_state)
    angles = rng.random(m) * 3 * np.pi / 2 - 0.5
    data = np.empty((m, 3))
    data[:, 0] = np.cos(angles) + np.sin(angles) / 2 + noise * rng.standard_normal(m) / 2
    data[:, 1] = np.sin(angles) * 0.7 + noise * rng.standard_normal(m) / 2
    data[:, 2] = data[:, 0] * w1 + data[:, 1] * w2 + noise * rng.standard_normal(m)
    return data.astype(np.float32)


def decoder_subspace(model, k: int) -> np.ndarray:
    """Rows spanning the decoder's image: decode(e_i) - decode(0), (k, D). For a linear
    decoder x_hat = W z + b these are the columns of W."""
    Z = np.vstack([np.zeros((1, k)), np.eye(k)]).astype(np.float32)
    out = app.decode(model, Z)
    return out[1:] - out[0]


def pca_vs_linear_3d(report, ctx):
    from aekit.estimators import LinearAutoencoder

    X = generate_3d_data(200, random_state=ctx.seed)
    X = X - X.mean(axis=0)  # centred, as in the book
    # 200 epochs of 7 steps even in the quick tour: a 3-2-3 network trains in about a
    # second, and 20 epochs left it 25 degrees off PCA's plane (the claim's whole point)
    ae = LinearAutoencoder(n_components=2, epochs=200, batch_size=32,
                           learning_rate=1e-2, random_state=ctx.seed).fit(X)
    pca = ev.fit_pca(X, 2)
    angles = np.degrees(subspace_angles(decoder_subspace(ae, 2).T, pca.components_.T))
    mse_ae = ev.reconstruction_metrics(X, app.reconstruct(ae, X))["mse"]
    mse_pca = ev.reconstruction_metrics(X, ev.pca_reconstruct(pca, X))["mse"]
    ctx.results["linear_3d"] = {"principal_angles_deg": angles.tolist(), "mse_ae": mse_ae,
                                "mse_pca": mse_pca}
    fig = new_figure(12, 3.8)
    a = fig.add_subplot(1, 3, 1, projection="3d")
    a.scatter(X[:, 0], X[:, 1], X[:, 2], s=6, c=X[:, 0], cmap="viridis")
    a.set_title("3-D data (centred)", fontsize=10)
    for i, (Z, name) in enumerate([(pca.transform(X), "PCA: first two components"),
                                   (ae.transform(X), "linear AE: the two codings")]):
        ax = fig.add_subplot(1, 3, i + 2)
        ax.scatter(Z[:, 0], Z[:, 1], s=6, c=X[:, 0], cmap="viridis")
        ax.set_title(name, fontsize=10)
        ax.set_aspect("equal", adjustable="datalim")
    return report.section(
        "PCA vs a linear autoencoder on 3-D data",
        claim="An autoencoder with linear activations, a 2-unit code and an MSE loss does "
              "what PCA does: it finds the best plane to project the 3-D data onto, keeping "
              "as much variance as it can (its codings are a basis of PCA's plane, not "
              "necessarily the principal axes themselves).",
        measured=f"Principal angles between the autoencoder's plane and PCA's: "
                 f"{angles[0]:.2f} and {angles[1]:.2f} degrees; reconstruction MSE "
                 f"{fmt(mse_ae)} (autoencoder) vs {fmt(mse_pca)} (PCA).",
        checks={"the plane is within 5 degrees of PCA's": float(angles.max()) < 5.0,
                "the MSE is within 10% of PCA's": mse_ae <= 1.10 * mse_pca},
    ).figure(fig, "200 points from the textbook's generate_3d_data recipe; colour = x so "
             "points can be matched across panels")


def nonlinearity(report, ctx):
    from aekit.estimators import LinearAutoencoder

    b, k = ctx.budget, ctx.budget.code_size
    lin = ctx.model("linear", lambda: LinearAutoencoder(
        n_components=k, epochs=b.epochs, batch_size=b.batch_size,
        random_state=ctx.seed).fit(ctx.X_train))
    deep = ctx.stacked()
    pca = ev.fit_pca(ctx.X_train, k)
    rows, res = [], {}
    for name, X_hat in [("PCA", ev.pca_reconstruct(pca, ctx.X_test)),
                        ("linear autoencoder", app.reconstruct(lin, ctx.X_test)),
                        (f"stacked autoencoder {list(b.hidden)}",
                         app.reconstruct(deep, ctx.X_test))]:
        m = ev.reconstruction_metrics(ctx.X_test, X_hat)
        res[name] = m["mse"]
        rows.append([name, fmt(m["mse"]), f"{m['psnr']:.2f}"])
    ctx.results["nonlinearity"] = res
    mse = list(res.values())
    verdict = "helps" if mse[2] < mse[0] else "does not help at this budget"
    return report.section(
        "Does non-linearity help?",
        claim="A linear autoencoder can at best match PCA. Non-linear layers let the encoder "
              "bend its code to the data, so a stacked autoencoder can reconstruct better "
              "than PCA at the same code size.",
        measured=f"Test MSE at code size {k}: PCA {fmt(mse[0])}, linear AE {fmt(mse[1])} "
                 f"({mse[1] / mse[0]:.2f}x PCA), stacked AE {fmt(mse[2])} "
                 f"({mse[2] / mse[0]:.2f}x PCA): non-linearity {verdict}.",
        checks={"the linear AE does not beat PCA (by more than 2%)": mse[1] >= 0.98 * mse[0],
                "the stacked AE reconstructs better than PCA": mse[2] < mse[0]},
    ).table(["model", "test MSE", "PSNR dB"], rows, caption=f"code size {k}").figure(
        plot_reconstructions(deep, ctx.X_test[:10], baseline=pca,
                             image_shape=ctx.image_shape),
        "test inputs, stacked autoencoder, PCA")
