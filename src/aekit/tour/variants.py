"""Design choices the lectures compare: tied weights, greedy layer-wise training,
convolutional decoders, denoising and sparse autoencoders."""

from __future__ import annotations

from aekit import applications as app
from aekit import evaluation as ev
from aekit.plotting import (
    mosaic_figure, new_figure, plot_activation_histogram, plot_denoising,
)
from aekit.tour.helpers import fmt, params_of


def _mse(model, X):
    return ev.reconstruction_metrics(X, app.reconstruct(model, X))["mse"]


def tied_vs_untied(report, ctx):
    untied = ctx.stacked()
    tied = ctx.model("tied", lambda: ctx.dense(tied=True).fit(ctx.X_train))
    rows, res = [], {}
    for name, m in [("untied", untied), ("tied (W_dec = W_enc^T)", tied)]:
        res[name] = {"test_mse": _mse(m, ctx.X_test), "parameters": params_of(m)}
        rows.append([name, fmt(res[name]["test_mse"]), res[name]["parameters"]])
    ctx.results["tied"] = res
    (u, t) = res.values()
    return report.section(
        "Tied vs untied decoder weights",
        claim="Tying each decoder layer's weights to the transpose of the matching encoder "
              "layer roughly halves the number of weights, speeds training and lowers the "
              "risk of overfitting, usually at little cost in reconstruction.",
        measured=f"Parameters {u['parameters']} -> {t['parameters']} "
                 f"({t['parameters'] / u['parameters']:.0%}); test MSE "
                 f"{fmt(u['test_mse'])} (untied) vs {fmt(t['test_mse'])} (tied).",
        checks={"about half the weights (60% or fewer)":
                t["parameters"] <= 0.6 * u["parameters"],
                "little cost in reconstruction (tied MSE within 1.25x untied)":
                t["test_mse"] <= 1.25 * u["test_mse"]},
    ).table(["decoder", "test MSE", "parameters"], rows,
            caption=f"same architecture {list(ctx.budget.hidden)} -> "
                    f"{ctx.budget.code_size}, same epochs")


def greedy_vs_end_to_end(report, ctx):
    """StackedAutoencoder() with its defaults, end to end and with pretraining='greedy'
    (the quick tour caps the epochs)."""
    from aekit.estimators import StackedAutoencoder

    quick = {"epochs": ctx.budget.epochs} if ctx.quick else {}
    e2e = ctx.model("default-e2e", lambda: StackedAutoencoder(
        random_state=ctx.seed, **quick).fit(ctx.X_train))
    greedy = ctx.model("default-greedy", lambda: StackedAutoencoder(
        pretraining="greedy", random_state=ctx.seed, **quick).fit(ctx.X_train))
    res = {"end to end": _mse(e2e, ctx.X_test), "greedy + fine-tune": _mse(greedy, ctx.X_test)}
    ctx.results["greedy"] = res
    ratio = res["greedy + fine-tune"] / res["end to end"]
    hidden = list(e2e.hidden_layer_sizes)
    verdict = ("as the claim says, about as well (within 10%)" if ratio <= 1.1 else
               f"this run contradicts 'about as well': greedy is {ratio:.2f}x worse" if
               ratio > 1 else "greedy did better here")
    return report.section(
        "Greedy layer-wise training vs end to end",
        claim="A deep autoencoder can be trained one shallow autoencoder at a time, each "
              "learning to reconstruct the previous one's codes, then stacked and fine-tuned; "
              "historically this made deep autoencoders trainable, while today end-to-end "
              "training with good initialisation and Adam usually does as well.",
        measured=f"StackedAutoencoder() with its defaults ({e2e.epochs_} epochs end to end; "
                 f"greedy: {len(hidden) + 1} layers x {greedy.epochs_} epochs, then "
                 f"{greedy.epochs_} fine-tuning epochs). Test MSE: end to end "
                 f"{fmt(res['end to end'])}, greedy + fine-tune "
                 f"{fmt(res['greedy + fine-tune'])} ({ratio:.2f}x): {verdict}.",
        checks={"greedy + fine-tune does about as well (within 10%)": ratio <= 1.1},
    ).table(["training", "test MSE"], [[k, fmt(v)] for k, v in res.items()],
            caption=f"layers {hidden} -> {e2e.n_components_} (the defaults)")


def conv_decoders(report, ctx):
    from aekit.estimators import ConvAutoencoder

    b = ctx.budget
    X = ctx.X_train[:b.conv_rows] if b.conv_rows else ctx.X_train
    k = b.code_size
    rows_img, labels, table, res = [ctx.X_test[:10]], ["input"], [], {}
    for decoder in ("transpose", "upsample", "unpool"):
        m = ctx.model(f"conv-{decoder}", lambda d=decoder: ConvAutoencoder(
            image_shape=ctx.image_shape, channels=b.channels, n_components=k, decoder=d,
            epochs=b.conv_epochs, batch_size=b.batch_size, learning_rate=b.lr,
            lr_schedule="cosine", random_state=ctx.seed).fit(X))
        mse = _mse(m, ctx.X_test)
        res[decoder] = {"test_mse": mse, "parameters": params_of(m)}
        table.append([decoder, fmt(mse), params_of(m)])
        rows_img.append(app.reconstruct(m, ctx.X_test[:10]))
        labels.append(decoder)
    pca_mse = ev.pca_baseline(X, ctx.X_test, k)["mse"]
    table.append([f"PCA (k={k})", fmt(pca_mse), "—"])
    ctx.results["conv"] = {**res, "pca_mse": pca_mse}
    best = min(res, key=lambda d: res[d]["test_mse"])
    dense_mse = _mse(ctx.stacked(), ctx.X_test)
    return report.section(
        "Convolutional autoencoder: three decoders",
        claim="For images, a convolutional encoder (convolutions + pooling) and a decoder "
              "that upsamples back work better than dense layers. The decoder can upsample "
              "with transposed convolutions, with nearest-neighbour upsampling + convolution, "
              "or (SegNet) by max-unpooling at the positions the encoder's pooling chose.",
        measured="Test MSE with a dense code of size " + str(k) + ": "
                 + ", ".join(f"{d} {fmt(v['test_mse'])}" for d, v in res.items())
                 + f"; PCA {fmt(pca_mse)}; the dense stacked AE {fmt(dense_mse)}. Best "
                 f"here: {best} ({len(X)} training rows, "
                 f"{b.conv_epochs} epochs). Unpooling passes the pooling indices around the "
                 "code, so its codes alone cannot be decoded (no generation).",
        checks={"the best convolutional AE beats PCA": res[best]["test_mse"] < pca_mse,
                "it beats the dense stacked AE at the same code size":
                res[best]["test_mse"] < dense_mse},
    ).table(["decoder", "test MSE", "parameters"], table,
            caption=f"channels {list(b.channels)}").figure(
        mosaic_figure(rows_img, ctx.image_shape, labels, title="Reconstructions by decoder"),
        "test inputs and the reconstructions of each decoder")


def denoising(report, ctx):
    level = {"gaussian": 0.3, "mask": 0.3}
    plain = ctx.stacked()
    models = {kind: ctx.model(f"denoise-{kind}", lambda kd=kind: ctx.dense(
        noise=kd, noise_level=level[kd]).fit(ctx.X_train)) for kind in level}
    pca = ev.fit_pca(ctx.X_train, ctx.budget.code_size)
    header = ["test corrupted with", "noisy input", "PCA", "plain AE", "Gaussian-noise DAE",
              "dropout-noise DAE"]
    rows, res = [], {}
    for kind in level:
        noisy = app.add_noise(ctx.X_test, kind, level[kind], ctx.seed)
        errs = {"noisy": ev.reconstruction_metrics(ctx.X_test, noisy)["mse"],
                "pca": ev.reconstruction_metrics(ctx.X_test, ev.pca_reconstruct(pca, noisy))
                ["mse"],
                "plain": ev.reconstruction_metrics(ctx.X_test, app.denoise(plain, noisy))["mse"]}
        for k2, m in models.items():
            errs[f"dae-{k2}"] = ev.reconstruction_metrics(ctx.X_test, app.denoise(m, noisy))[
                "mse"]
        res[kind] = errs
        name = "Gaussian std 0.3" if kind == "gaussian" else "dropout p = 0.3"
        rows.append([name, *(fmt(v) for v in errs.values())])
    ctx.results["denoising"] = res
    g, d = res["gaussian"], res["mask"]
    return report.section(
        "Denoising autoencoder: Gaussian and dropout noise",
        claim="Trained to reconstruct clean inputs from corrupted ones (Gaussian noise added, "
              "or inputs randomly switched off as with dropout), an autoencoder learns robust "
              "features rather than the identity, and removes that kind of noise.",
        measured=f"MSE to the clean test images, Gaussian noise: noisy {fmt(g['noisy'])}, "
                 f"plain AE {fmt(g['plain'])}, Gaussian DAE {fmt(g['dae-gaussian'])}; "
                 f"dropout noise: noisy {fmt(d['noisy'])}, plain AE {fmt(d['plain'])}, "
                 f"dropout DAE {fmt(d['dae-mask'])}.",
        checks={"the Gaussian DAE removes Gaussian noise (output nearer the clean image "
                "than its input)": g["dae-gaussian"] < g["noisy"],
                "the dropout DAE removes dropout noise": d["dae-mask"] < d["noisy"],
                "each DAE beats the plain AE on its own noise":
                g["dae-gaussian"] <= g["plain"] and d["dae-mask"] <= d["plain"]},
    ).table(header, rows, caption="MSE to the clean images (lower is better)").figure(
        plot_denoising(models["gaussian"], ctx.X_test, noise="gaussian", level=0.3,
                       random_state=ctx.seed, baseline=pca, image_shape=ctx.image_shape,
                       title="Gaussian-noise denoising autoencoder"),
        "clean / noisy / denoising autoencoder / PCA").figure(
        plot_denoising(models["mask"], ctx.X_test, noise="mask", level=0.3,
                       random_state=ctx.seed, baseline=pca, image_shape=ctx.image_shape,
                       title="Dropout-noise denoising autoencoder"),
        "clean / 30% of pixels dropped / denoising autoencoder / PCA")


def sparse(report, ctx):
    k = 4 * ctx.budget.code_size
    target = 0.05
    common = dict(n_components=k, code_activation="sigmoid")
    plain = ctx.model("sigmoid-code", lambda: ctx.dense(**common).fit(ctx.X_train))
    sp = ctx.model("sparse", lambda: ctx.dense(**common, sparsity="kl", sparsity_weight=0.1,
                                               sparsity_target=target).fit(ctx.X_train))
    res = {}
    for name, m in [("plain", plain), ("sparse", sp)]:
        Z = app.encode(m, ctx.X_test)
        res[name] = {"mean_activation": float(Z.mean()),
                     "fraction_below_0.1": float((Z < 0.1).mean()),
                     "test_mse": _mse(m, ctx.X_test)}
    ctx.results["sparse"] = res
    p, s = res["plain"], res["sparse"]
    fig = new_figure(9, 3.2)
    ax = fig.subplots(1, 2)
    for a, (name, m) in zip(ax, [("no penalty", plain), ("KL sparsity", sp)], strict=True):
        a.hist(app.encode(m, ctx.X_test).ravel(), bins=40, range=(0, 1), color="tab:blue")
        a.set_yscale("log")
        a.set_title(f"{name}: code values", fontsize=10)
        a.set_xlabel("activation")
    return report.section(
        "Sparse autoencoder: code activations",
        claim="A sparsity penalty on the code (L1, or the KL divergence between a target "
              "activation rho and each unit's mean activation) makes most code units "
              "inactive for any given input, even when the code is large.",
        measured=f"Code size {k}, sigmoid codes. Mean activation {p['mean_activation']:.3f} "
                 f"without penalty vs {s['mean_activation']:.3f} with the KL penalty "
                 f"(target {target}); values below 0.1: {p['fraction_below_0.1']:.1%} vs "
                 f"{s['fraction_below_0.1']:.1%}; test MSE {fmt(p['test_mse'])} vs "
                 f"{fmt(s['test_mse'])}.",
        checks={"the penalty lowers the mean activation":
                s["mean_activation"] < p["mean_activation"],
                "most code values are inactive (below 0.1) with it":
                s["fraction_below_0.1"] > 0.5},
    ).figure(fig, "histograms of all test code values (log count)").figure(
        plot_activation_histogram(sp, ctx.X_test, title="KL-sparse code"),
        "sparse model: value histogram and mean activation per unit")
