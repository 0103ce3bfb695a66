"""Beyond the lecture: the variational family the model zoos go on to (IWAE, the
VampPrior, the VQ-VAE), each beside the model it improves on, with what it buys measured
on the tour's data. beta-TCVAE needs known factors of variation, which the tour's data
lacks: its measurement is benchmarks/disentanglement.py (procedural sprites)."""

from __future__ import annotations

import math

import numpy as np

from aekit import applications as app
from aekit.plotting import mosaic_figure
from aekit.tour.helpers import fmt

LL_SAMPLES = 100  # importance samples of the test log-likelihood (k)


def _log_likelihood(model, X) -> float:
    from aekit.evaluation.vae import scored_rows

    rows, _ = scored_rows(model, X)  # one fixed binarised draw of the test rows
    return float(model.fitted_.log_likelihood(rows, k=LL_SAMPLES, random_state=0).mean())


def beyond_the_lecture(report, ctx):
    from aekit.estimators import ConvAutoencoder, VariationalAutoencoder, VQVAE

    b = ctx.budget
    X, X_test = ctx.X_train, ctx.X_test

    def vae(**options):
        return VariationalAutoencoder(
            n_components=b.code_size, hidden_layer_sizes=(max(b.hidden) * 2,),
            likelihood="bernoulli", binarize="dynamic", epochs=b.vae_epochs,
            batch_size=b.batch_size, learning_rate=b.lr, random_state=ctx.seed,
            **options).fit(X)

    ll = {"VAE (ELBO)": _log_likelihood(vae(), X_test),
          "IWAE, k=5": _log_likelihood(vae(importance_samples=5), X_test),
          "VampPrior, 50 pseudo-inputs": _log_likelihood(
              vae(prior="vamp", n_pseudo_inputs=50), X_test)}
    base = ll["VAE (ELBO)"]
    # the VQ-VAE against the conv autoencoder whose float32 code has at least its bits
    Xc = X[:b.conv_rows] if b.conv_rows else X
    vq = ctx.model("vqvae", lambda: VQVAE(
        image_shape=ctx.image_shape, channels=b.channels, epochs=b.conv_epochs,
        batch_size=b.batch_size, learning_rate=b.lr, random_state=ctx.seed).fit(Xc))
    bits = vq.n_components_ * math.log2(vq.codebook_size)
    k = math.ceil(bits / 32)
    conv = ConvAutoencoder(image_shape=ctx.image_shape, channels=b.channels, n_components=k,
                           epochs=b.conv_epochs, batch_size=b.batch_size, learning_rate=b.lr,
                           lr_schedule="cosine", random_state=ctx.seed).fit(Xc)
    mse_vq = float(np.mean((vq.reconstruct(X_test) - X_test) ** 2))
    mse_conv = float(np.mean((conv.reconstruct(X_test) - X_test) ** 2))
    perplexity = vq.perplexity(X_test)
    ctx.results["beyond"] = {"log_likelihood_nats": ll, "iw_samples": LL_SAMPLES,
                             "vq": {"code_bits": bits, "test_mse": mse_vq,
                                    "perplexity": perplexity,
                                    "codebook_size": vq.codebook_size},
                             "conv": {"n_components": k, "code_bits": 32 * k,
                                      "test_mse": mse_conv}}
    table = [[name, fmt(v), f"{v - base:+.2f}"] for name, v in ll.items()]
    shown = X_test[:10]
    rows = [shown, app.reconstruct(vq, shown), app.reconstruct(conv, shown),
            vq.sample(10, random_state=ctx.seed)]
    return report.section(
        "Beyond the lecture: IWAE, VampPrior, VQ-VAE",
        claim="The model zoos go past the VAE: IWAE (Burda et al. 2016) trains on a k-sample "
              "importance-weighted bound, tighter than the ELBO, and reaches a higher "
              "log-likelihood; the VampPrior (Tomczak & Welling 2018) learns the prior as a "
              "mixture of the encoder's posteriors at learned pseudo-inputs; the VQ-VAE "
              "(van den Oord et al. 2017) codes an image as a grid of codebook indices and "
              "generates from an autoregressive prior over them, reconstructing better "
              "than a continuous code of the same bits.",
        measured=f"Test log p(x) (k={LL_SAMPLES}, dynamically binarised training, one fixed "
                 f"draw of the test rows): VAE {fmt(base)}, IWAE "
                 f"{ll['IWAE, k=5'] - base:+.2f} nats, VampPrior "
                 f"{ll['VampPrior, 50 pseudo-inputs'] - base:+.2f} nats (the paper's gain "
                 "comes after hundreds of epochs; benchmarks/results/variational.md has "
                 f"Fashion-MNIST's). VQ-VAE at {bits:.0f} bits per image: test MSE "
                 f"{fmt(mse_vq)} against {fmt(mse_conv)} for the conv AE's {k} float32 "
                 f"numbers ({32 * k} bits); codebook perplexity {perplexity:.1f} of "
                 f"{vq.codebook_size}.",
        checks={"IWAE's test log-likelihood is above the VAE's": ll["IWAE, k=5"] > base,
                "the VQ-VAE reconstructs better than the conv AE with as many code bits":
                mse_vq < mse_conv,
                "the VQ-VAE uses at least a quarter of its codebook":
                perplexity >= vq.codebook_size / 4},
    ).table(["model", "test log p(x), nats", "vs the VAE"], table,
            caption="same network, epochs and optimiser").figure(
        mosaic_figure(rows, ctx.image_shape, ["input", "VQ-VAE", f"conv AE (k={k})",
                                              "VQ-VAE prior"],
                      title="Reconstructions at the same code bits, and prior samples"),
        "test inputs, their reconstructions by each model, and index grids drawn from the "
        "VQ-VAE's prior")
