"""Disentanglement metrics: how each code unit follows each known factor of variation
(on :func:`aekit.datasets.make_sprites`, or any data whose factors are known).

- :func:`mig`, the mutual information gap (Chen et al. 2018, eq. 6): for each factor, the
  gap between the two code units that carry the most information about it, over the
  factor's entropy; averaged over factors. 1: each factor lives in one unit alone.
- :func:`factor_vae_score` (Kim & Mnih 2018, sec. 4): hold one factor fixed over a batch,
  find the (standardised) code unit that varies least, and let a majority vote predict the
  factor from that unit; the score is the vote's accuracy on fresh batches.
- :func:`dci` (Eastwood & Williams 2018): a random forest predicts each factor from the
  codes; from its importances R (units x factors), disentanglement (each unit important
  for one factor), completeness (each factor captured by one unit) and informativeness
  (the forests' held-out accuracy).

Mutual information between a code unit (continuous) and a factor (discrete) is estimated
by k nearest neighbours (Ross 2014; scikit-learn's ``mutual_info_classif``), not by
binning the codes: a histogram of 20 bins caps a 32-level factor's information at log 20,
so even the factors themselves as codes would score 0.86.
"""

from __future__ import annotations

import numpy as np

from aekit.errors import ConfigError, DataError


def _check(codes, factors) -> tuple[np.ndarray, np.ndarray]:
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise DataError(f"codes (n, k) and factors (n, F) must have the same rows, got "
                        f"{codes.shape} and {factors.shape}")
    if len(codes) < 10:
        raise DataError(f"{len(codes)} rows: the metrics need at least 10")
    if not np.isfinite(codes).all():
        raise DataError("codes contain NaN or infinite values")
    if factors.dtype.kind not in "iub":
        raise DataError("factors must be integer indices (one column per factor)")
    return codes, factors.astype(np.int64)


def _label_entropy(labels: np.ndarray) -> float:
    """Entropy of a discrete variable's empirical distribution, nats."""
    p = np.bincount(labels - labels.min()) / len(labels)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def mutual_information(codes, factors, random_state=0) -> np.ndarray:
    """I(z_i; v_j) in nats, (k units, F factors), by k-nearest-neighbour estimation (a
    constant unit carries none)."""
    from sklearn.feature_selection import mutual_info_classif

    codes, factors = _check(codes, factors)
    spread = codes.std(axis=0)
    out = np.zeros((codes.shape[1], factors.shape[1]))
    live = spread > 1e-12 * max(1.0, float(np.abs(codes).max()))
    if live.any():
        Z = (codes[:, live] - codes[:, live].mean(axis=0)) / spread[live]
        for j in range(factors.shape[1]):
            out[live, j] = mutual_info_classif(Z, factors[:, j], n_neighbors=3,
                                               random_state=random_state)
    return out


def mig(codes, factors, random_state=0) -> float:
    """Mutual information gap, in [0, 1] (Chen et al. 2018): mean over factors (with more
    than one value) of (I(z_a; v) - I(z_b; v)) / H(v), a and b the two units with the most
    information about v."""
    codes, factors = _check(codes, factors)
    mi = mutual_information(codes, factors, random_state)
    gaps = []
    for j in range(factors.shape[1]):
        h = _label_entropy(factors[:, j])
        if h <= 0:
            continue
        top = np.sort(mi[:, j])[::-1]
        second = top[1] if len(top) > 1 else 0.0
        gaps.append(min(1.0, max(0.0, (top[0] - second) / h)))
    if not gaps:
        raise DataError("no factor varies: MIG is undefined")
    return float(np.mean(gaps))


def factor_vae_score(encode, sample_factors, render, *, n_train: int = 500,
                     n_eval: int = 300, batch: int = 64, n_scale: int = 5000,
                     random_state=0) -> float:
    """FactorVAE disentanglement score in [0, 1] (Kim & Mnih 2018).

    encode(images) -> codes (n, k); sample_factors(n, seed) -> factors (n, F) int;
    render(factors) -> images. Codes are divided by their standard deviation over
    ``n_scale`` random images; units that hardly vary there (std < 0.05: collapsed to the
    prior) never win a vote. Each vote fixes one factor (uniformly chosen) at one value
    over ``batch`` images and records (the unit of least variance, the factor); a majority
    vote fitted on ``n_train`` votes predicts the factor of ``n_eval`` fresh ones."""
    for name, v in (("n_train", n_train), ("n_eval", n_eval), ("batch", batch),
                    ("n_scale", n_scale)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 2:
            raise ConfigError(f"{name} must be an integer >= 2, got {v!r}")
    rng = np.random.default_rng(random_state)
    scale = np.asarray(encode(render(sample_factors(n_scale, int(rng.integers(2**31))))),
                       dtype=np.float64).std(axis=0)
    active = scale >= 0.05
    if not active.any():
        return 0.0  # every unit collapsed: no vote can point anywhere

    def votes(n):
        out = []
        for _ in range(n):
            f = sample_factors(batch, int(rng.integers(2**31)))
            k = int(rng.integers(f.shape[1]))
            f[:, k] = f[0, k]
            z = np.asarray(encode(render(f)), dtype=np.float64)[:, active] / scale[active]
            out.append((int(np.argmin(z.var(axis=0))), k))
        return np.array(out)

    train, test = votes(n_train), votes(n_eval)
    n_factors = int(max(train[:, 1].max(), test[:, 1].max())) + 1
    counts = np.zeros((int(active.sum()), n_factors), dtype=np.int64)
    np.add.at(counts, (train[:, 0], train[:, 1]), 1)
    predict = counts.argmax(axis=1)
    return float(np.mean(predict[test[:, 0]] == test[:, 1]))


def dci(codes, factors, *, test_fraction: float = 0.3, random_state=0) -> dict:
    """Disentanglement, completeness and informativeness (Eastwood & Williams 2018), each
    in [0, 1], from a random forest per factor (codes -> factor) on 1 - test_fraction of
    the rows; informativeness is its accuracy on the rest, averaged over factors.
    Returns {"disentanglement", "completeness", "informativeness", "importance" (k, F)}."""
    from sklearn.ensemble import RandomForestClassifier

    codes, factors = _check(codes, factors)
    n, k = codes.shape
    F = factors.shape[1]
    order = np.random.default_rng(random_state).permutation(n)
    cut = int(round(n * (1 - test_fraction)))
    fit, held = order[:cut], order[cut:]
    R = np.zeros((k, F))
    accuracy = []
    for j in range(F):
        # every unit is a candidate at each split (max_features=None): with feature
        # bagging a split that could not see the right unit credits a useless one
        forest = RandomForestClassifier(n_estimators=50, max_depth=8, max_features=None,
                                        n_jobs=1, random_state=random_state)
        forest.fit(codes[fit], factors[fit, j])
        R[:, j] = forest.feature_importances_
        accuracy.append(float(np.mean(forest.predict(codes[held]) == factors[held, j])))

    def one_minus_entropy(P, base):  # rows of P sum to 1
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(P > 0, np.log(P), 0.0)
        return 1.0 + (P * logs).sum(axis=1) / np.log(base) if base > 1 else np.ones(len(P))

    total = R.sum()
    if total <= 0:
        return {"disentanglement": 0.0, "completeness": 0.0,
                "informativeness": float(np.mean(accuracy)), "importance": R}
    unit = R.sum(axis=1)
    P = np.divide(R, unit[:, None], out=np.zeros_like(R), where=unit[:, None] > 0)
    D = float((one_minus_entropy(P, F) * unit / total).sum())
    col = R.sum(axis=0)
    Q = np.divide(R.T, col[:, None], out=np.zeros_like(R.T), where=col[:, None] > 0)
    C = float(np.mean(one_minus_entropy(Q, k)))
    return {"disentanglement": D, "completeness": C,
            "informativeness": float(np.mean(accuracy)), "importance": R}


def disentanglement_metrics(model, sprites, *, n_votes: int = 300,
                            random_state=0) -> dict:
    """MIG, the FactorVAE score and DCI of ``model`` (anything :func:`aekit.loading.
    as_fitted` takes; its codes: a VAE's posterior means) on ``sprites``
    (:func:`aekit.datasets.make_sprites`): MIG and DCI on the codes of those rows, the
    FactorVAE score on freshly rendered batches of the same size."""
    from aekit.datasets.sprites import sample_factors, sprites_from_factors
    from aekit.loading import as_fitted

    fitted = as_fitted(model)
    size = sprites.images.shape[-1]

    def encode(images):
        return fitted.encode(np.asarray(images).reshape(len(images), -1))

    codes = encode(sprites.images)
    scores = dci(codes, sprites.factors, random_state=random_state)
    return {"mig": mig(codes, sprites.factors, random_state),
            "factor_vae": factor_vae_score(
                encode, sample_factors, lambda f: sprites_from_factors(f, size),
                n_train=n_votes, n_eval=max(2, n_votes // 2), random_state=random_state),
            **{k: scores[k] for k in ("disentanglement", "completeness", "informativeness")}}
