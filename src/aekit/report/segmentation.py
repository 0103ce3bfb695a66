"""The run report of a segmentation model (ConvSegmenter): SegNet's metrics, the per-class
IoU table, training curves and image / true mask / predicted mask overlays. Like
:func:`aekit.report.build.build_report` (which hands segmenters to it) it only assembles:
numbers from :mod:`aekit.evaluation.segmentation`, images from
:mod:`aekit.plotting.segmentation`."""

from __future__ import annotations

import numpy as np

from aekit import applications as app
from aekit import plotting as pl
from aekit.errors import DataError
from aekit.evaluation.segmentation import BOUNDARY_TOLERANCE, segmentation_metrics
from aekit.report.html import Report


def segmentation_summary(fitted) -> dict:
    c = fitted.module.config
    return {"model": "ConvSegmenter (SegNet)", "decoder": c.decoder,
            "channels": list(c.hidden), "n_classes": c.n_classes,
            "image shape (C, H, W)": list(fitted.layout.image_shape),
            "parameters": int(sum(p.numel() for p in fitted.module.parameters()))}


def segmentation_report(model, X_test, masks_test, *, history=None, config: dict | None = None,
                        title: str = "aekit run", subtitle: str | None = None,
                        class_names=None, n_show: int = 8) -> Report:
    """The report of a fitted segmenter on test images X_test (n, D) or (n, C, H, W) and
    their masks (n, H, W). ``report.results["model"]`` holds the metrics."""
    fitted = app.as_fitted(model)
    if masks_test is None:
        raise DataError("a segmentation report needs the test masks (data with per-pixel "
                        "labels: scenes:NAME or a folder with images/ and masks/)")
    k = fitted.module.config.n_classes
    pred = fitted.segment(X_test)
    metrics = segmentation_metrics(masks_test, pred, k)
    names = list(class_names) if class_names is not None and len(class_names) == k else \
        [f"class {i}" for i in range(k)]
    metrics["class_names"] = names
    report = Report(title, subtitle)
    report.results["model"] = metrics
    s = report.section("Configuration")
    s.key_values(segmentation_summary(fitted), caption="model")
    if config:
        s.key_values(config, caption="run configuration")
    report.section(
        "Segmentation metrics on the test set",
        claim="SegNet (Badrinarayanan et al.) reports global pixel accuracy, class-average "
              "accuracy, mean IoU and a boundary F1 score: global accuracy alone is "
              "dominated by the background, so the class-balanced measures say more.",
        measured=f"Global accuracy {metrics['global_accuracy']:.4f}, class-average accuracy "
                 f"{metrics['class_accuracy']:.4f}, mean IoU {metrics['miou']:.4f}, boundary "
                 f"F1 ({BOUNDARY_TOLERANCE} px) {metrics['boundary_f1']:.4f} on "
                 f"{metrics['images']} test images.",
    ).table(["class", "IoU"],
            [[n, "-" if v is None else round(v, 4)] for n, v in zip(names, metrics["iou"])],
            caption="per-class IoU (-: the class is in neither the masks nor the prediction)")
    if history:
        last = history[-1]
        val = f", validation loss {last['val_loss']:.4g}" if "val_loss" in last else ""
        report.section(
            "Training curves",
            measured=f"{len(history)} epochs; final training loss {last['loss']:.4g}, pixel "
                     f"accuracy {last.get('accuracy', float('nan')):.4f}{val}.",
        ).figure(pl.plot_training_curves(history), "each term per epoch (solid: training, "
                 "dashed: validation)")
    show = np.asarray(X_test)[:n_show]
    report.section(
        "Masks",
        claim="An encoder-decoder labels every pixel; max-unpooling with the encoder's "
              "indices (SegNet) puts features back where the maxima were, which keeps "
              "boundaries sharp.",
    ).figure(pl.plot_segmentation(fitted, show, np.asarray(masks_test)[:n_show],
                                  class_names=names),
             "test images, their true masks and the predicted masks (class colours over the "
             "image)")
    return report
