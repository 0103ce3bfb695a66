"""Segmentation metrics as the SegNet paper reports them (Badrinarayanan et al.,
arXiv:1511.00561, sec. 4): global pixel accuracy, class-average accuracy, mean IoU, and
the boundary F1 score (BF, Csurka et al., BMVC 2013).

Definitions, with the confusion matrix N (N[t, p] pixels of true class t predicted p):

- global accuracy = sum_c N[c, c] / sum N (every pixel alike, so background dominates);
- class-average accuracy = mean over classes c present in the truth of N[c, c] / sum_p
  N[c, p] (per-class recall);
- IoU_c = N[c, c] / (sum_p N[c, p] + sum_t N[t, c] - N[c, c]); mean IoU averages it over
  the classes present in the truth or the prediction (a class in neither is 0 / 0 and
  left out; its entry in ``iou`` is None);
- boundary F1 with a tolerance of ``tolerance`` pixels (Euclidean): for each image and
  each class present in its true or predicted mask, the class's boundary pixels (pixels
  of the class with a 4-neighbour of another class; the image's edge is not a boundary)
  are compared: precision = the share of predicted boundary pixels within the tolerance
  of a true one, recall = the share of true boundary pixels within the tolerance of a
  predicted one, F1 = 2PR / (P + R) (0 when P + R = 0; 1 when neither mask has a boundary
  of the class, i.e. it covers the whole image in both). An image's BF is the mean over
  its classes; the reported BF is the mean over images.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import distance_transform_edt

from aekit.applications.adapter import as_fitted
from aekit.errors import DataError
from aekit.estimators.segmenter import check_masks, confusion_matrix, iou_per_class

BOUNDARY_TOLERANCE = 2  # pixels


def _as_masks(true, pred):
    T, P = np.asarray(true), np.asarray(pred)
    if T.ndim == 2:
        T = T[None]
    if P.ndim == 2:
        P = P[None]
    if T.ndim != 3:
        raise DataError(f"true masks must be (n, H, W) or one (H, W) mask, got shape {T.shape}")
    T = check_masks(T, len(T), T.shape[1:], name="true")
    P = check_masks(P, len(T), T.shape[1:], name="pred")
    return T, P


def boundary(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a boolean mask (H, W): in the mask, with a 4-neighbour outside it
    (beyond the image's edge counts as the edge pixel itself)."""
    m = np.pad(mask, 1, mode="edge")
    inner = m[1:-1, 1:-1]
    outside = (~m[:-2, 1:-1]) | (~m[2:, 1:-1]) | (~m[1:-1, :-2]) | (~m[1:-1, 2:])
    return inner & outside


def boundary_f1_image(true: np.ndarray, pred: np.ndarray,
                      tolerance: float = BOUNDARY_TOLERANCE) -> float:
    """BF of one image (H, W): the mean over the classes in ``true`` or ``pred`` of the
    boundary F1 (see the module docstring)."""
    scores = []
    for c in np.union1d(np.unique(true), np.unique(pred)):
        bt, bp = boundary(true == c), boundary(pred == c)
        if not bt.any() and not bp.any():
            # neither has an edge: the class fills the image in both, or is missing from one
            scores.append(1.0 if (true == c).any() and (pred == c).any() else 0.0)
            continue
        if not bt.any() or not bp.any():
            scores.append(0.0)
            continue
        # distance of every pixel to the nearest boundary pixel of the other mask
        to_true = distance_transform_edt(~bt)
        to_pred = distance_transform_edt(~bp)
        precision = float((to_true[bp] <= tolerance).mean())
        recall = float((to_pred[bt] <= tolerance).mean())
        total = precision + recall
        scores.append(0.0 if total == 0 else 2 * precision * recall / total)
    return float(np.mean(scores))


def segmentation_metrics(true, pred, n_classes: int | None = None,
                         tolerance: float = BOUNDARY_TOLERANCE) -> dict:
    """SegNet's metrics of predicted masks ``pred`` against ``true`` ((n, H, W) or one
    (H, W) mask each, class indices, 0 = background).

    n_classes: the number of classes (default: the largest label in either + 1).
    Returns {"global_accuracy", "class_accuracy", "miou", "iou" (per class, None for a
    class in neither), "boundary_f1", "n_classes", "images", "pixels"} (definitions in
    the module docstring). Bad masks (shape, non-integer or negative labels, labels >=
    n_classes) raise a DataError naming the row."""
    T, P = _as_masks(true, pred)
    if n_classes is None:
        n_classes = int(max(T.max(initial=0), P.max(initial=0))) + 1
    check_masks(T, len(T), T.shape[1:], n_classes, name="true")
    check_masks(P, len(T), T.shape[1:], n_classes, name="pred")
    conf = confusion_matrix(T, P, n_classes)
    true_pixels = conf.sum(axis=1)
    present = true_pixels > 0
    iou = iou_per_class(conf)
    bf = [boundary_f1_image(t, p, tolerance) for t, p in zip(T, P)]
    return {
        "global_accuracy": float(np.trace(conf) / conf.sum()),
        "class_accuracy": float(np.mean(np.diag(conf)[present] / true_pixels[present])),
        "miou": float(np.nanmean(iou)),
        "iou": [None if np.isnan(v) else float(v) for v in iou],
        "boundary_f1": float(np.mean(bf)),
        "n_classes": int(n_classes),
        "images": int(len(T)),
        "pixels": int(conf.sum()),
    }


SEGMENTATION_LABELS = {
    "global_accuracy": "global accuracy",
    "class_accuracy": "class-average accuracy",
    "miou": "mean IoU",
    "boundary_f1": f"boundary F1 ({BOUNDARY_TOLERANCE} px)",
}


def evaluate_segmenter(model, X, masks, class_names=None) -> dict:
    """:func:`segmentation_metrics` of a fitted segmenter (estimator, fitted model or
    folder) on images X and their masks, plus ``class_names`` beside ``iou``."""
    fitted = as_fitted(model)
    pred = fitted.segment(X)
    out = segmentation_metrics(masks, pred, fitted.module.config.n_classes)
    if class_names is not None and len(class_names) == out["n_classes"]:
        out["class_names"] = list(class_names)
    return out
