"""Code densities: what a fitted autoencoder samples codes from to generate.

A VAE has its prior N(0, I) (:class:`StandardNormal`). A plain autoencoder has no prior:
sampling draws codes from a density fitted to the codes of the training data and decodes
them (pythae's ``samplers/``: "GaussianMixtureSampler").
Every density is a Gaussian mixture stored as plain tensors (weights, means, Cholesky
factors), so it is saved in ``model.safetensors`` and loaded without pickle:

- ``gmm``: ``sklearn.mixture.GaussianMixture`` with full covariances, fitted on a seeded
  random subsample of at most ``GMM_FIT_ROWS`` codes, single-threaded (see ``GMM_FIT_ROWS``);
- ``gaussian``: one Gaussian with the codes' mean and covariance (a 1-component mixture);
- ``uniform``: independent uniforms over each code dimension's training range.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from aekit.errors import ConfigError, DataError, ModelFileError

SAMPLERS = ("gmm", "gaussian", "uniform")
DENSITIES = ("prior", *SAMPLERS)  # "prior": N(0, I), a VAE's own
# What a model folder stores: a Gaussian is a one-component mixture; a prior stores nothing.
STORED = ("gmm", "uniform")
REG = 1e-6  # added to covariance diagonals, scaled by the codes' variance
# The mixture is fitted on at most this many codes (a seeded random subsample). Why: EM
# costs O(rows x components x k^2) per iteration; on all 60k Fashion-MNIST codes (k = 30,
# 10 components) the fit took ~30 s, more than the whole default training. 5000 rows keep
# ~500 per component for its 465 covariance entries, and the samples are as close to the
# training data as with all rows (benchmarks/speed.py, "code density":
# nearest-training-row distance of generated rows, subsample vs all codes).
GMM_FIT_ROWS = 5000


def check_codes(codes, kind: str) -> None:
    """Refuse what no density of ``kind`` can be fitted to (an unknown kind, codes not
    (n, k) with n >= 1, non-finite or beyond-float32 codes)."""
    if kind not in SAMPLERS:
        raise ConfigError(f"sampler {kind!r} is not one of {list(SAMPLERS)}")
    if np.ndim(codes) != 2 or len(codes) < 1:
        raise ConfigError(f"a {kind!r} density needs codes of shape (n, k), n >= 1, got "
                          f"{np.shape(codes)}")
    codes = np.asarray(codes)
    if not np.isfinite(codes).all() or np.abs(codes).max() > np.finfo(np.float32).max:
        raise DataError("the codes hold NaN, infinite or beyond-float32 values (the "
                        "network's outputs overflow): no code density can be fitted")


class CodeDensity:
    """A density over codes (k dims): ``kind`` plus named float64 arrays."""

    def __init__(self, kind: str, params: dict[str, np.ndarray]):
        self.kind, self.params = kind, params

    @classmethod
    def fit(cls, codes: np.ndarray, kind: str, n_components: int, seed: int) -> "CodeDensity":
        """Fit ``kind`` on codes (n, k). Degenerate codes never make this fail: constant,
        duplicated or too few rows, or magnitudes a mixture cannot be fitted to, give a
        mixture with fewer components (at most one per distinct code) or one Gaussian with
        a regularised covariance."""
        check_codes(codes, kind)
        codes = np.asarray(codes, dtype=np.float64)  # (n, k)
        n, k = codes.shape
        if kind == "uniform":
            return cls(kind, {"low": codes.min(0), "high": codes.max(0)})
        reg = REG * max(float(codes.var(axis=0).mean()), 1e-12)
        if kind == "gmm" and min(n_components, n) > 1:
            fit_codes = codes
            if n > GMM_FIT_ROWS:  # seeded: the same model and seed give the same density
                rows = np.random.RandomState(seed).choice(n, GMM_FIT_ROWS, replace=False)
                fit_codes = codes[np.sort(rows)]
            m = min(n_components, len(np.unique(fit_codes, axis=0)))  # a component per code
            fitted = _mixture(fit_codes, m, reg, seed) if m > 1 else None
            if fitted is not None:
                return fitted
        return cls._gaussian(codes, reg)

    @classmethod
    def _gaussian(cls, codes: np.ndarray, reg: float) -> "CodeDensity":
        """One Gaussian: the codes' mean and (ML) covariance plus ``reg`` on the diagonal;
        a covariance that is not positive definite in floating point falls back to its
        diagonal."""
        n, k = codes.shape
        means = codes.mean(0, keepdims=True)
        centred = codes - means
        cov = centred.T @ centred / n + reg * np.eye(k)
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            chol = np.diag(np.sqrt(np.diag(cov)))
        return cls("gmm", {"weights": np.ones(1), "means": means, "chol": chol[None]})

    def sample(self, n: int, rng: np.random.RandomState) -> np.ndarray:
        """n codes (n, k), float32, drawn with ``rng``."""
        p = self.params
        if self.kind == "uniform":
            return rng.uniform(p["low"], p["high"], size=(n, len(p["low"]))).astype(np.float32)
        comp = rng.choice(len(p["weights"]), size=n, p=p["weights"] / p["weights"].sum())
        eps = rng.standard_normal((n, p["means"].shape[1]))
        with np.errstate(over="ignore", invalid="ignore"):
            z = p["means"][comp] + np.einsum("nij,nj->ni", p["chol"][comp], eps)
        big = float(np.finfo(np.float32).max)  # codes are float32: never round to Inf
        return np.clip(np.nan_to_num(z, nan=0.0), -big, big).astype(np.float32)

    def to_tensors(self) -> dict[str, torch.Tensor]:
        out = {f"sampler/{self.kind}/{k}": torch.from_numpy(np.ascontiguousarray(v))
               for k, v in self.params.items()}
        return out

    @classmethod
    def from_tensors(cls, tensors: dict, k: int) -> "CodeDensity":
        """Rebuild from ``sampler/<kind>/<name>`` tensors, checking names and shapes."""
        found = {key.split("/", 2)[1] for key in tensors if key.startswith("sampler/")}
        if len(found) != 1 or next(iter(found)) not in STORED:
            raise ModelFileError(f"sampler tensors of unknown kind {sorted(found)}")
        kind = found.pop()
        p = {key.split("/", 2)[2]: tensors[key].double().numpy()
             for key in tensors if key.startswith(f"sampler/{kind}/")}
        if kind == "uniform":
            ok = set(p) == {"low", "high"} and all(v.shape == (k,) for v in p.values())
        else:
            m = len(p.get("weights", ()))
            ok = (set(p) == {"weights", "means", "chol"} and p["weights"].shape == (m,)
                  and p["means"].shape == (m, k) and p["chol"].shape == (m, k, k)
                  and m > 0 and (p["weights"] >= 0).all() and p["weights"].sum() > 0)
        if not ok or not all(np.isfinite(v).all() for v in p.values()):
            raise ModelFileError(f"sampler tensors ({kind}) do not fit a {k}-d code")
        return cls(kind, p)


def _mixture(codes: np.ndarray, m: int, reg: float, seed: int) -> "CodeDensity | None":
    """A full-covariance Gaussian mixture of m components, or None where scikit-learn's
    fit fails or gives a covariance without a finite Cholesky factor (the caller falls
    back to one Gaussian)."""
    try:
        # One thread: these are small products; with a thread per core, one competing busy
        # process made the fit 10-20x slower (measured: 0.7 s vs 14 s on 4000 codes).
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm = GaussianMixture(m, covariance_type="full", reg_covar=reg,
                                 random_state=seed).fit(codes)
        weights, means, covs = gm.weights_, gm.means_, gm.covariances_
        # Sampling needs L with L L^T = Sigma: x = mu + L eps, eps ~ N(0, I).
        chol = np.linalg.cholesky(covs)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError):
        return None
    if not all(np.isfinite(a).all() for a in (weights, means, chol)) or weights.sum() <= 0:
        return None
    return CodeDensity("gmm", {"weights": weights, "means": means, "chol": chol})


class StandardNormal:
    """The VAE prior p(z) = N(0, I) over k dims (nothing fitted, nothing stored)."""

    kind = "prior"

    def __init__(self, k: int):
        self.k = int(k)

    def sample(self, n: int, rng: np.random.RandomState) -> np.ndarray:
        return rng.standard_normal((n, self.k)).astype(np.float32)

    def to_tensors(self) -> dict:
        return {}


class ModulePrior:
    """A VAE's own prior when it is not N(0, I) (a VampPrior: the mixture of the encoder's
    posteriors at its pseudo-inputs, aekit.models.priors), read from the module at each
    draw; nothing stored beside the module's weights."""

    kind = "prior"

    def __init__(self, module):
        self.module = module
        self.k = int(module.code_size)

    def sample(self, n: int, rng: np.random.RandomState) -> np.ndarray:
        """A component uniformly, then its Gaussian, both drawn from ``rng``."""
        with torch.no_grad():
            means, logvars = (t.detach().cpu().double().numpy()
                              for t in self.module.prior.components(self.module))
        pick = rng.randint(0, len(means), size=n)
        eps = rng.standard_normal((n, self.k))
        return (means[pick] + np.exp(0.5 * logvars[pick]) * eps).astype(np.float32)

    def to_tensors(self) -> dict:
        return {}


class IndexPriorDensity:
    """A VQ-VAE's autoregressive prior over its index grids (aekit.models.vq.IndexPrior),
    read from the module at each draw; nothing stored beside the module's weights."""

    kind = "prior"

    def __init__(self, module):
        self.module = module
        self.k = int(module.code_size)

    def sample(self, n: int, rng: np.random.RandomState) -> np.ndarray:
        """n index grids (n, h*w) as float32, drawn cell by cell with a torch generator
        seeded from ``rng``."""
        g = torch.Generator(device=self.module.prior.out.weight.device)
        g.manual_seed(int(rng.randint(0, 2**31 - 1)))
        was = self.module.training
        self.module.eval()
        try:
            return self.module.prior.sample(n, g).cpu().numpy().astype(np.float32)
        finally:
            self.module.train(was)

    def to_tensors(self) -> dict:
        return {}


def prior_of(module):
    """A VAE module's prior as a code density: N(0, I) or :class:`ModulePrior`."""
    if module.prior.kind == "standard":
        return StandardNormal(module.code_size)
    return ModulePrior(module)


def fit_density(kind: str, codes, n_components: int = 10, seed: int = 0):
    """A density of ``kind`` (one of DENSITIES) over codes (n, k): 'prior' needs only k."""
    if kind == "prior":
        return StandardNormal(np.shape(codes)[1])
    return CodeDensity.fit(codes, kind, n_components, seed)
