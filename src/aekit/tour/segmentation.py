"""Segmentation, the application the lecture names for convolutional encoder-decoders:
SegNet's max-unpooling decoder against the two other ways aekit's decoders undo pooling,
on scenes composed from the tour's own images."""

from __future__ import annotations

import time

import numpy as np

from aekit.datasets import make_scenes
from aekit.evaluation import segmentation_metrics
from aekit.plotting import plot_segmentation
from aekit.tour.helpers import params_of

DECODERS = ("unpool", "upsample", "transpose")


def _budget(ctx) -> dict:
    """Scenes, epochs and network by dataset: seconds in quick mode, a few minutes on
    Fashion-MNIST (benchmarks/segmentation.py runs the full budget)."""
    side = ctx.image_shape[1]
    canvas = 32 if side <= 16 else 64
    if ctx.quick:
        return dict(canvas=canvas, n_train=60, n_test=20, epochs=1, channels=(4, 8))
    if side <= 16:
        return dict(canvas=canvas, n_train=800, n_test=200, epochs=8, channels=(16, 32))
    return dict(canvas=canvas, n_train=1500, n_test=300, epochs=4, channels=(16, 32, 64))


def segnet_decoders(report, ctx):
    from aekit.estimators import ConvSegmenter

    b = _budget(ctx)
    kw = dict(canvas=b["canvas"], max_objects=3, image_shape=ctx.image_shape)
    X, M = make_scenes(ctx.X_train, ctx.y_train, b["n_train"], random_state=ctx.seed, **kw)
    Xt, Mt = make_scenes(ctx.X_test, ctx.y_test, b["n_test"], random_state=ctx.seed + 1, **kw)
    k = int(max(M.max(), Mt.max())) + 1
    rows, results, models = [], {}, {}
    for decoder in DECODERS:
        t0 = time.perf_counter()
        est = ConvSegmenter(channels=b["channels"], decoder=decoder, epochs=b["epochs"],
                            n_classes=k, random_state=ctx.seed).fit(X, M)
        seconds = time.perf_counter() - t0
        m = segmentation_metrics(Mt, est.predict(Xt), k)
        results[decoder] = {"parameters": params_of(est), "seconds": seconds,
                            **{key: m[key] for key in ("global_accuracy", "class_accuracy",
                                                       "miou", "boundary_f1")}}
        models[decoder] = est
        r = results[decoder]
        rows.append([decoder, r["parameters"], round(seconds, 1), round(r["global_accuracy"], 4),
                     round(r["class_accuracy"], 4), round(r["miou"], 4),
                     round(r["boundary_f1"], 4)])
    ctx.results["segmentation"] = {"budget": {**b, "channels": list(b["channels"])},
                                   "decoders": results}
    u, s = results["unpool"], results["upsample"]
    verdict = ("at least as high as" if u["boundary_f1"] >= s["boundary_f1"] else "below")
    extra = u["parameters"] - s["parameters"]
    return report.section(
        "Segmentation: SegNet's unpooling decoder",
        claim="SegNet (Badrinarayanan et al.) segments with a convolutional encoder-decoder "
              "whose decoder max-unpools with the encoder's pooling indices: the indices "
              "put each feature back where its maximum was, which keeps object boundaries "
              "sharp at little cost (no weights are learned to upsample, only indices are "
              "kept).",
        measured=f"{b['n_train']} training scenes ({b['canvas']}x{b['canvas']}, up to 3 "
                 f"objects, {k} classes), {b['epochs']} epoch(s), the same encoder "
                 f"{tuple(b['channels'])}: boundary F1 (2 px) of 'unpool' {u['boundary_f1']:.3f},"
                 f" {verdict} 'upsample' ({s['boundary_f1']:.3f}); mean IoU {u['miou']:.3f} vs "
                 f"{s['miou']:.3f}; 'unpool' has {extra:+d} parameters against 'upsample' "
                 "(the same convolutions; indices carry no weights). Short trainings: see "
                 "benchmarks/results/segmentation.md for the full budget.",
        checks={"unpooling keeps boundaries at least as sharp as upsampling (boundary F1)":
                u["boundary_f1"] >= s["boundary_f1"],
                "with no more weights": extra <= 0},
    ).table(["decoder", "parameters", "train s", "global acc", "class acc", "mIoU",
             "boundary F1"], rows, caption=f"{b['n_test']} test scenes").figure(
        plot_segmentation(models["unpool"], Xt[:8], Mt[:8],
                          class_names=["background", *[str(c) for c in np.unique(ctx.y_train)]]
                          if k == len(np.unique(ctx.y_train)) + 1 else None),
        "'unpool' (SegNet) on test scenes: image, true mask, predicted mask")
