"""The lecture's questions to a trained autoencoder (stacked AE, then VAE): can it
reconstruct, "denoise" (is the decoder stable under small code perturbations), average,
generate; t-SNE of its codes; the 2-D VAE latent grid; interpolation; beta-VAE traversals."""

from __future__ import annotations

import numpy as np

from aekit import applications as app
from aekit import evaluation as ev
from aekit.plotting import (
    code_map, mosaic_figure, plot_average, plot_code_map, plot_generated, plot_interpolations,
    plot_latent_grid, plot_latent_traversals,
)
from aekit.report.latent_map import add_latent_map
from aekit.tour.helpers import fmt, nearest_mse

PERTURBATIONS = (0.001, 0.01, 0.1, 0.5)  # code noise, in units of each code unit's std


def _pairs(ctx, n: int = 4):
    """n test pairs from different classes (first row of class i vs of class i+1)."""
    classes = np.unique(ctx.y_test)
    firsts = [int(np.flatnonzero(ctx.y_test == c)[0]) for c in classes]
    a = [firsts[i % len(firsts)] for i in range(n)]
    b = [firsts[(i + 1) % len(firsts)] for i in range(n)]
    return ctx.X_test[a], ctx.X_test[b]


def four_questions(report, ctx, model, title: str, kind: str):
    """One section: reconstruction, code perturbation, averaging, generation.

    Long because it is one section of the tour read top to bottom (four questions, each
    measured and drawn in the order the page shows them)."""
    X, shape = ctx.X_test, ctx.image_shape
    vae = kind == "VAE"
    Z = app.encode(model, X)
    std = Z.std(axis=0) + 1e-8
    rng = np.random.default_rng(ctx.seed)
    show = X[:8]
    Zs = app.encode(model, show)
    base = app.decode(model, Zs)
    rows, labels, change = [show, base], ["input", "decoded code"], {}
    for s in PERTURBATIONS:
        out = app.decode(model, (Zs + s * std * rng.standard_normal(Zs.shape)).astype(
            np.float32))
        full = app.decode(model, (Z + s * std * rng.standard_normal(Z.shape)).astype(
            np.float32))
        change[s] = float(np.mean((full - app.decode(model, Z)) ** 2))
        rows.append(out)
        labels.append(f"code + {s:g} std noise")
    recon_mse = ev.reconstruction_metrics(X, app.reconstruct(model, X))["mse"]

    A, B = _pairs(ctx)
    avg_code = app.average(model, A, B)
    avg_pix = (A + B) / 2
    d_code = float(nearest_mse(avg_code, ctx.X_train).mean())
    d_pix = float(nearest_mse(avg_pix, ctx.X_train).mean())

    n_gen = 20
    if vae:
        method, gen = "prior", app.generate(model, n_gen, "prior", random_state=ctx.seed)
    else:
        method = "uniform"
        gen = app.generate(model, n_gen, "uniform", X_fit=X, random_state=ctx.seed)
    d_gen = float(nearest_mse(gen, ctx.X_train).mean())
    d_real = float(nearest_mse(app.reconstruct(model, X[:n_gen]), ctx.X_train).mean())
    mean_mse = float(np.mean((X - ctx.X_train.mean(axis=0)) ** 2))  # predicting the mean
    checks = {
        "it reconstructs (test MSE under half of predicting the mean image)":
            recon_mse < 0.5 * mean_mse,
        "a 0.01-std nudge of the code changes the output less than the reconstruction "
        "error": change[0.01] < recon_mse,
        "the decoded code average is nearer the data than the pixel average": d_code < d_pix,
        ("prior samples are about as near the data as reconstructions (within 2x)" if vae
         else "codes from the box decode farther from the data than reconstructions"):
            d_gen <= 2 * d_real if vae else d_gen > d_real}
    ctx.results[f"{kind} questions"] = {
        "test_mse": recon_mse, "perturbation_output_mse": change,
        "nearest_train_mse": {"code_average": d_code, "pixel_average": d_pix,
                              "generated": d_gen, "reconstructed_test": d_real}}
    s = report.section(
        title,
        claim=("Trained on images alone, the " + kind + " reconstructs its inputs; its decoder "
               "changes its output only a little when the code is nudged (the lecture adds "
               "noise of scale 0.001 and 0.01 to a code); decoding the mean of two codes "
               "gives one plausible item rather than a double exposure; and codes drawn "
               + ("from the prior N(0, I) decode to new items (a VAE is a generative model)."
                  if vae else "uniformly from the box of the codes' ranges decode to "
                  "images that are rarely plausible: a plain autoencoder is not a "
                  "generative model.")),
        measured=(f"Test MSE {fmt(recon_mse)}. Output change (MSE) when every code unit gets "
                  "noise of " + ", ".join(f"{k:g} std: {fmt(v)}" for k, v in change.items())
                  + f". Distance (MSE) to the nearest training image: decoded code average "
                  f"{fmt(d_code)} vs pixel average {fmt(d_pix)}; generated ({method}) "
                  f"{fmt(d_gen)} vs reconstructed test images {fmt(d_real)} "
                  f"({d_gen / max(d_real, 1e-12):.2f}x)."), checks=checks)
    s.figure(mosaic_figure(rows, shape, labels, title="Perturbing the code"),
             "decoder output when each code unit gets Gaussian noise of the given size "
             "(in units of that unit's standard deviation over the test codes)")
    s.figure(plot_average(model, A, B, image_shape=shape),
             "codes of A and B averaged and decoded, vs the pixel average")
    s.figure(plot_generated(model, n=n_gen, method=method, X_fit=None if vae else X,
                            random_state=ctx.seed, per_row=10, image_shape=shape),
             f"decoded codes drawn from: {method}"
             + ("" if vae else " (the box [min, max] of the test codes per unit)"))
    return s


def tsne_section(report, ctx, model, title: str, kind: str):
    emb = code_map(model, ctx.X_test, max_points=ctx.budget.map_points,
                   random_state=ctx.seed)
    Y, method, idx = emb
    trust = ev.map_trustworthiness(ctx.X_test[idx], Y)
    Z_tr, Z_te = app.encode(model, ctx.X_train), app.encode(model, ctx.X_test)
    knn = ev.knn_accuracy(Z_tr, ctx.y_train, Z_te, ctx.y_test)
    knn_pca = ev.knn_accuracy(*(lambda p: (p.transform(ctx.X_train), ctx.y_train,
                                           p.transform(ctx.X_test), ctx.y_test))(
        ev.fit_pca(ctx.X_train, Z_tr.shape[1])))
    ctx.results[f"{kind} t-SNE"] = {"trustworthiness": trust, "knn": knn, "knn_pca": knn_pca}
    return report.section(
        title,
        claim="Although it never saw a label, the autoencoder's codes separate the classes: "
              "a t-SNE map of the test codes shows clusters, one per class.",
        measured=f"5-NN accuracy on the codes {knn:.3f} (PCA codes of the same size "
                 f"{knn_pca:.3f}); trustworthiness of the 2-D map {trust:.3f}.",
        checks={"the codes separate the classes (5-NN accuracy at least 3x chance)":
                knn >= 3 / len(np.unique(ctx.y_train))},
    ).figure(plot_code_map(embedding=emb, y=ctx.y_test), f"{len(Y)} test codes ({method}), "
             "coloured by the label the model never saw")


def stacked_questions(report, ctx):
    return four_questions(report, ctx, ctx.stacked(),
                          "Stacked autoencoder: reconstruct, denoise, average, generate",
                          "stacked autoencoder")


def stacked_tsne(report, ctx):
    return tsne_section(report, ctx, ctx.stacked(), "Stacked autoencoder: t-SNE of the codes",
                        "stacked autoencoder")


def vae_questions(report, ctx):
    return four_questions(report, ctx, ctx.vae(ctx.budget.code_size),
                          "VAE: reconstruct, denoise, average, generate", "VAE")


def vae_tsne(report, ctx):
    return tsne_section(report, ctx, ctx.vae(ctx.budget.code_size), "VAE: t-SNE of the codes",
                        "VAE")


def vae_latent_grid(report, ctx):
    vae = ctx.vae(2)
    Z = app.encode(vae, ctx.X_test)
    knn = ev.knn_accuracy(app.encode(vae, ctx.X_train), ctx.y_train, Z, ctx.y_test)
    inside = float((np.abs(Z) < 1.96).all(axis=1).mean())
    ctx.results["VAE 2-D"] = {"knn": knn, "fraction_codes_in_prior_95": inside}
    section = report.section(
        "VAE with a 2-D code: the latent grid",
        claim="With two latent dimensions the whole latent space can be drawn: decoding a "
              "regular grid of prior quantiles shows items changing smoothly, with classes "
              "occupying regions; the KL term keeps codes packed around the origin.",
        measured=f"5-NN accuracy on the 2-D codes {knn:.3f}; {inside:.1%} of test codes lie "
                 "inside the prior's central 95% box (|z| < 1.96 on both axes).",
        checks={"classes occupy regions (5-NN accuracy at least 3x chance)":
                knn >= 3 / len(np.unique(ctx.y_train)),
                "the codes stay packed around the origin (80% or more in the box)":
                inside >= 0.8},
    ).figure(plot_latent_grid(vae, n=15, method="prior", image_shape=ctx.image_shape),
             "decoded grid of N(0, 1) quantiles 5%..95% per axis").figure(
        plot_code_map(embedding=(Z, "codes", np.arange(len(Z))), y=ctx.y_test),
        "the test codes (posterior means)")
    # the same plane, live: the page decodes the code under the pointer
    add_latent_map(report, vae, ctx.X_test, ctx.y_test, image_shape=ctx.image_shape,
                   title="VAE with a 2-D code: decode any point (interactive)")
    return section


def interpolation(report, ctx):
    A, B = _pairs(ctx, 3)
    out, s_parts = {}, []
    figs = []
    for name, model, method in [("stacked autoencoder", ctx.stacked(), "linear"),
                                ("VAE", ctx.vae(ctx.budget.code_size), "slerp")]:
        paths = app.interpolate(model, A, B, 9, method)  # (m, 9, D)
        mid = paths[:, 4]
        t = 0.5
        pix_mid = (1 - t) * A + t * B
        d_mid = float(nearest_mse(mid, ctx.X_train).mean())
        d_pix = float(nearest_mse(pix_mid, ctx.X_train).mean())
        out[name] = {"midpoint_nearest_train_mse": d_mid, "pixel_midpoint": d_pix}
        s_parts.append(f"{name} ({method}): {fmt(d_mid)} vs pixel cross-fade {fmt(d_pix)}")
        figs.append(plot_interpolations(model, A, B, n_steps=9, method=method,
                                        image_shape=ctx.image_shape,
                                        title=f"{name}: {method} interpolation"))
    ctx.results["interpolation"] = out
    s = report.section(
        "Interpolation in code space",
        claim="Walking in a straight line (or along a great circle, slerp, for a VAE) between "
              "the codes of two images decodes to a sequence that morphs one into the other "
              "through plausible items, unlike a pixel cross-fade which superimposes them.",
        measured="Distance (MSE) of the path's midpoint to the nearest training image: "
                 + "; ".join(s_parts) + ".",
        checks={f"{name}: the midpoint is nearer the data than the cross-fade's":
                v["midpoint_nearest_train_mse"] < v["pixel_midpoint"]
                for name, v in out.items()})
    for fig, name in zip(figs, ("stacked autoencoder", "VAE"), strict=True):
        s.figure(fig, f"{name}: code path (upper row of each pair), pixel cross-fade (lower)")
    return s


def beta_vae_traversals(report, ctx):
    k = ctx.budget.code_size
    beta = ctx.budget.beta
    plain, bvae = ctx.vae(k), ctx.vae(k, beta=beta)
    kl_plain = ev.kl_per_dimension(plain, ctx.X_test)
    kl_beta = ev.kl_per_dimension(bvae, ctx.X_test)
    act_plain, act_beta = ev.active_units(plain, ctx.X_test), ev.active_units(bvae, ctx.X_test)
    mse_plain = ev.reconstruction_metrics(ctx.X_test, app.reconstruct(plain, ctx.X_test))["mse"]
    mse_beta = ev.reconstruction_metrics(ctx.X_test, app.reconstruct(bvae, ctx.X_test))["mse"]
    ctx.results["beta-VAE"] = {"beta": beta, "active_units": {"1": act_plain, "beta": act_beta},
                               "kl_total": {"1": float(kl_plain.sum()),
                                            "beta": float(kl_beta.sum())},
                               "test_mse": {"1": mse_plain, "beta": mse_beta}}
    dims = np.argsort(-kl_beta)[:min(k, 6)]
    return report.section(
        "beta-VAE: latent traversals",
        claim="Weighting the KL term by beta > 1 pressures the VAE toward fewer, more "
              "independent latent factors: varying one latent dimension changes one aspect "
              "of the output, at some cost in reconstruction.",
        measured=f"beta = 1: {act_plain} of {k} active units, KL {kl_plain.sum():.2f} nats, "
                 f"test MSE {fmt(mse_plain)}; beta = {beta:g}: {act_beta} active units, KL "
                 f"{kl_beta.sum():.2f} nats, test MSE {fmt(mse_beta)}.",
        checks={"beta > 1 lowers the KL": float(kl_beta.sum()) < float(kl_plain.sum()),
                "no more active units": act_beta <= act_plain,
                "at some cost in reconstruction (MSE not lower by more than 2%)":
                mse_beta >= 0.98 * mse_plain},
    ).figure(plot_latent_traversals(bvae, ctx.X_test[0], dims=dims,
                                    image_shape=ctx.image_shape,
                                    title=f"beta = {beta:g}: traversals"),
             "each row varies one latent dimension from -3 to 3 around a test code; rows "
             "ordered by KL, most informative first")
