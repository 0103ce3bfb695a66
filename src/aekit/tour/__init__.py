"""The lecture tour: every experiment of the course material, rerun on one dataset and
collected in one HTML report. Each section states what the lecture claims and what this run
measured, and how long it took.

    >>> from aekit.tour import run_tour
    >>> report = run_tour("digits", quick=True)
    >>> report.save("tour/")

One module per group of experiments; each experiment is a function
``experiment(report, ctx) -> Section``:

- :mod:`aekit.tour.information`: entropy and KL divergence (the space-worms example)
- :mod:`aekit.tour.linear`: PCA vs a linear autoencoder on 3-D data; does non-linearity help
- :mod:`aekit.tour.questions`: can it reconstruct / denoise / average / generate, t-SNE of
  codes (stacked AE and VAE); the 2-D VAE latent grid; interpolation; beta-VAE traversals
- :mod:`aekit.tour.variants`: tied vs untied, greedy layer-wise vs end to end,
  convolutional decoders, denoising AEs, sparse AEs
- :mod:`aekit.tour.uses`: pretraining with few labels, anomaly detection
- :mod:`aekit.tour.segmentation`: SegNet's unpooling decoder against the other two on
  scenes composed from the tour's images (per-pixel labels)
- :mod:`aekit.tour.compression`: real bitstreams against JPEG, in and out of domain; the
  pretrained photo codec against JPEG and WebP at equal bytes
- :mod:`aekit.tour.beyond`: beyond the lecture, what IWAE, the VampPrior and the VQ-VAE
  buy over the models they improve on

Budgets (rows, epochs) are scaled by dataset in :data:`BUDGETS` so that digits runs in
about a minute and Fashion-MNIST in minutes on 2 CPU cores; ``quick`` shrinks everything to
seconds per section (for tests). Library code: nothing is printed; pass ``progress`` to be
told when each section starts and ends.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from aekit.errors import ConfigError
from aekit.report import Report

TOUR_DATASETS = ("digits", "fashion-mnist", "mnist")


@dataclass(frozen=True)
class Budget:
    """How much of the data and how many epochs each experiment gets."""

    n_train: int | None  # training rows (None: all)
    n_test: int | None  # test rows for metrics and figures (None: all)
    code_size: int  # code size of the stacked AE (and PCA beside it)
    hidden: tuple  # hidden layers of the stacked AE
    epochs: int  # dense autoencoders
    vae_epochs: int
    conv_rows: int | None  # training rows for the convolutional AEs
    conv_epochs: int
    channels: tuple  # conv AE channels
    batch_size: int
    map_points: int  # t-SNE points
    labelled: int  # labelled rows in the pretraining experiment
    beta: float = 4.0  # beta-VAE weight (64-pixel digits need less: their KL is small)
    label_draws: int = 1  # random draws of the labelled rows (pretraining experiment)
    lr: float = 3e-3


BUDGETS = {
    "digits": Budget(n_train=None, n_test=None, code_size=8, hidden=(128,), epochs=60,
                     vae_epochs=80, conv_rows=None, conv_epochs=40, channels=(16, 32),
                     batch_size=64, map_points=360, labelled=50, beta=2.0, label_draws=3),
    "fashion-mnist": Budget(n_train=20000, n_test=2000, code_size=30, hidden=(100,),
                            epochs=15, vae_epochs=15, conv_rows=6000, conv_epochs=4,
                            channels=(16, 32), batch_size=128, map_points=1000, labelled=200,
                            lr=2e-3),
}
BUDGETS["mnist"] = BUDGETS["fashion-mnist"]
# The quick tour: about half a minute on digits, trained enough that the lectures' robust
# claims hold (3 epochs on 400 rows left every model near its initialisation, so half the
# verdicts were noise: anomaly AUROC 0.39, denoisers worse than their noisy inputs).
QUICK = Budget(n_train=1000, n_test=300, code_size=8, hidden=(64,), epochs=40, vae_epochs=60,
               conv_rows=1000, conv_epochs=40, channels=(16, 32), batch_size=64, map_points=100,
               labelled=50, beta=2.0)


@dataclass
class TourContext:
    """Data, budget and the models shared between sections (trained on first use)."""

    name: str
    X_train: np.ndarray  # (N, D) in [0, 1]
    y_train: np.ndarray  # (N,)
    X_test: np.ndarray  # (n, D)
    y_test: np.ndarray
    image_shape: tuple  # (C, H, W)
    budget: Budget
    seed: int = 0
    quick: bool = False
    models: dict = field(default_factory=dict)
    results: dict = field(default_factory=dict)  # section title -> numbers

    def model(self, key: str, make: Callable):
        """The model ``key``, fitted by ``make()`` the first time it is asked for."""
        if key not in self.models:
            self.models[key] = make()
        return self.models[key]

    def dense(self, **overrides):
        """A StackedAutoencoder with the tour's dense recipe (overridable)."""
        from aekit.estimators import StackedAutoencoder

        b = self.budget
        # the lectures' network: ReLU units, no weight decay (not the estimator's defaults,
        # which the "defaults" sections use)
        params = dict(n_components=b.code_size, hidden_layer_sizes=b.hidden,
                      activation="relu", weight_decay=0.0,
                      code_activation="linear", epochs=b.epochs, batch_size=b.batch_size,
                      learning_rate=b.lr, lr_schedule="cosine", warmup_epochs=0.0,
                      random_state=self.seed,
                      sampler="gaussian")  # the tour samples codes itself; skip the GMM fit
        params.update(overrides)
        return StackedAutoencoder(**params)

    def stacked(self):
        """The tour's main stacked autoencoder (untied, trained end to end)."""
        return self.model("stacked", lambda: self.dense().fit(self.X_train))

    def vae(self, n_components: int, beta: float = 1.0):
        from aekit.estimators import VariationalAutoencoder

        b = self.budget

        def make():
            return VariationalAutoencoder(
                n_components=n_components, hidden_layer_sizes=(max(b.hidden) * 2,),
                beta=beta, epochs=b.vae_epochs, batch_size=b.batch_size, learning_rate=b.lr,
                lr_schedule="cosine", random_state=self.seed).fit(self.X_train)

        return self.model(f"vae-{n_components}-{beta:g}", make)


def experiments() -> list:
    """(title, function) of every section, in report order."""
    from aekit.tour import (
        beyond, compression, information, linear, questions, segmentation, uses, variants,
    )

    return [
        ("PCA vs a linear autoencoder on 3-D data", linear.pca_vs_linear_3d),
        ("Does non-linearity help?", linear.nonlinearity),
        ("Stacked autoencoder: reconstruct, denoise, average, generate",
         questions.stacked_questions),
        ("Stacked autoencoder: t-SNE of the codes", questions.stacked_tsne),
        ("VAE: reconstruct, denoise, average, generate", questions.vae_questions),
        ("VAE: t-SNE of the codes", questions.vae_tsne),
        ("VAE with a 2-D code: the latent grid", questions.vae_latent_grid),
        ("Interpolation in code space", questions.interpolation),
        ("beta-VAE: latent traversals", questions.beta_vae_traversals),
        ("Tied vs untied decoder weights", variants.tied_vs_untied),
        ("Greedy layer-wise training vs end to end", variants.greedy_vs_end_to_end),
        ("Convolutional autoencoder: three decoders", variants.conv_decoders),
        ("Denoising autoencoder: Gaussian and dropout noise", variants.denoising),
        ("Sparse autoencoder: code activations", variants.sparse),
        ("Pretraining with few labels", uses.pretraining),
        ("Anomaly detection", uses.anomaly),
        ("Segmentation: SegNet's unpooling decoder", segmentation.segnet_decoders),
        ("Compression: real bitstreams against JPEG", compression.compression),
        ("The photo codec: learned transform coding against JPEG and WebP",
         compression.photo_codec),
        ("KL divergence between discrete distributions", information.kl_section),
        ("Beyond the lecture: IWAE, VampPrior, VQ-VAE", beyond.beyond_the_lecture),
    ]


def load_context(data: str, *, quick: bool = False, seed: int = 0) -> TourContext:
    """The tour's data: a named dataset, rows capped by the budget (first rows of each
    split; MNIST-style files are already shuffled)."""
    from aekit.datasets import load

    if data not in TOUR_DATASETS:
        raise ConfigError(f"the tour runs on {', '.join(TOUR_DATASETS)}, not {data!r}")
    budget = QUICK if quick else BUDGETS[data]
    train, test = load(data, split="train", progress=False), load(data, split="test",
                                                                   progress=False)
    n, m = budget.n_train or len(train.X), budget.n_test or len(test.X)
    return TourContext(name=data, X_train=np.asarray(train.X[:n], np.float32),
                       y_train=np.asarray(train.y[:n]), X_test=np.asarray(test.X[:m],
                                                                          np.float32),
                       y_test=np.asarray(test.y[:m]), image_shape=tuple(train.image_shape),
                       budget=budget, seed=seed, quick=quick)


def run_tour(data: str = "digits", *, quick: bool = False, seed: int = 0,
             only: list[str] | None = None, progress: Callable | None = None) -> Report:
    """Run every experiment (or those whose title contains one of ``only``) and return the
    report; ``report.results`` holds each section's numbers and ``"timings"`` (seconds)."""
    ctx = load_context(data, quick=quick, seed=seed)
    b = ctx.budget
    report = Report(f"aekit lecture tour: {data}",
                    f"{len(ctx.X_train)} training / {len(ctx.X_test)} test rows"
                    + (", quick mode" if quick else ""))
    intro = report.section("About this run")
    intro.text("Every experiment of the lecture material, rerun here. Each section first "
               "states what the lecture claims, then what this run measured. Budgets "
               "(rows, epochs) are scaled to the dataset so the whole tour stays fast on a "
               "laptop CPU; numbers are therefore those of short trainings.")
    intro.key_values({k: list(v) if isinstance(v, tuple) else v
                      for k, v in dataclasses.asdict(b).items()}, caption="budget")
    timings = {}
    t_all = time.perf_counter()
    for title, fn in experiments():
        if only and not any(o.lower() in title.lower() for o in only):
            continue
        if progress:
            progress(f"{title} ...")
        t0 = time.perf_counter()
        section = fn(report, ctx)
        seconds = time.perf_counter() - t0
        if section.checks is not None:  # the claim's testable parts, held or not
            ctx.results.setdefault("verdicts", {})[title] = {
                "holds": all(section.checks.values()), "checks": section.checks}
        section.text(f"Section time: {seconds:.1f} s (includes training any model first "
                     "used here).")
        timings[title] = seconds
        if progress:
            progress(f"{title}: {seconds:.1f} s")
    total = time.perf_counter() - t_all
    report.section("Timings", measured=f"Whole tour: {total:.1f} s.").table(
        ["section", "seconds"], [[t, round(s, 1)] for t, s in timings.items()]
        + [["total", round(total, 1)]], caption="wall-clock seconds per section")
    report.results.update(ctx.results)
    report.results["timings"] = {**timings, "total": total}
    return report


__all__ = ["BUDGETS", "QUICK", "TOUR_DATASETS", "Budget", "TourContext", "experiments",
           "load_context", "run_tour"]
