"""Loss terms and the composable training objective.

An :class:`Objective` combines a reconstruction loss with any of: input corruption
(denoising), L1 or KL sparsity on the code, a contractive penalty, a rate term (the bits
of the quantised code, for compression), and - for variational
models - the closed-form KL to the prior with a ``beta`` weight (beta-VAE) and optional
warm-up. It works with every architecture because models share one output dict.

Units. Plain autoencoders: reconstruction is the mean per element (MSE or BCE per pixel),
so learning rates transfer across image sizes. Variational autoencoders: every term is in
nats per sample, summed over features or latent dimensions, so ``-(recon + kl)`` is the ELBO.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F

from aekit.errors import ConfigError

RECONSTRUCTIONS = ("mse", "bce")
NOISE_KINDS = ("gaussian", "mask", "salt_pepper")
SPARSITY_KINDS = ("l1", "kl")
LIKELIHOODS = ("gaussian", "bernoulli")
BINARIZE = (None, "dynamic")


# --- corruption (denoising autoencoders) -------------------------------------------------
def corrupt(x: torch.Tensor, kind: str, level: float, generator=None, clip=True):
    """Corrupt a batch at training time only.

    gaussian: x + N(0, level^2), clipped to [0, 1] when ``clip``;
    mask: each value set to 0 with probability ``level`` (dropout noise, no rescaling);
    salt_pepper: each value set to 0 or 1 (equally likely) with probability ``level``.
    """
    if kind == "gaussian":
        noisy = x + level * torch.randn(x.shape, generator=generator, device=x.device,
                                        dtype=x.dtype)
        return noisy.clamp_(0.0, 1.0) if clip else noisy
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    if kind == "mask":
        return x * (u >= level)
    if kind == "salt_pepper":
        hit = u < level
        salt = u < level / 2  # half of the hits become 1, the other half 0
        return torch.where(hit, salt.to(x.dtype), x)
    raise ConfigError(f"unknown noise {kind!r}; choose one of {list(NOISE_KINDS)}")


# --- individual terms ----------------------------------------------------------------------
def reconstruction(out: dict, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean per-element MSE of ``recon``, or BCE computed stably from the logits."""
    if kind == "mse":
        return F.mse_loss(out["recon"], target)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(out["logits"], target)
    raise ConfigError(f"unknown reconstruction loss {kind!r}; choose one of {list(RECONSTRUCTIONS)}")


def negative_log_likelihood(out: dict, target: torch.Tensor, likelihood: str, scale: float) -> torch.Tensor:
    """-log p(x|z) per sample in nats, summed over features.

    bernoulli: sum_i BCE(x_i, p_i) from logits (x in [0, 1] treated as a probability);
    gaussian: sum_i (x_i - mu_i)^2 / (2 s^2) + log(s sqrt(2 pi)), s = ``scale`` fixed.
    """
    if likelihood == "bernoulli":
        nll = F.binary_cross_entropy_with_logits(out["logits"], target, reduction="none")
        return nll.sum(dim=1)
    d = target.shape[1]
    sq = (out["recon"] - target).pow(2).sum(dim=1)
    return sq / (2 * scale**2) + d * (math.log(scale) + 0.5 * math.log(2 * math.pi))


LOG_2PI = math.log(2 * math.pi)


def importance_log_weights(model, mu, logvar, target, eps, nll):
    """log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x) for z_i = mu + sigma * eps_i
    (Burda, Grosse & Salakhutdinov 2016, eq. 8): (s, B), and the decoder's logits
    (s * B, D). ``eps`` (s, B, k), or (s, 1, k) shared by every row; ``nll(logits,
    targets)`` -> -log p(x|z) per row. logsumexp_i log w_i - log s is the s-sample bound
    on log p(x) (the ELBO for s = 1; it never decreases with s)."""
    std = torch.exp(0.5 * logvar)
    z = mu + std * eps  # (s, B, k)
    s, b = z.shape[0], mu.shape[0]
    logits = model.decode_logits(z.reshape(s * b, -1))
    targets = target.expand(s, *target.shape).reshape(s * b, -1)
    log_px_z = -nll(logits, targets).view(s, b)
    log_pz = model.log_prior(z)  # N(0, I), or the model's own prior
    log_qz = -0.5 * (eps.pow(2) + logvar + LOG_2PI).sum(-1)  # N(mu, sigma^2) at z
    return log_px_z + log_pz - log_qz, logits


def kl_decomposition(z, mu, logvar, log_pz, n_data: int):
    """The ELBO's KL at the sample z, split per row (Chen et al. 2018, eq. 2) into
    index-code mutual information log q(z|x) - log q(z), total correlation
    log q(z) - sum_d log q(z_d) and dimension-wise KL sum_d log q(z_d) - log p(z); their
    sum is log q(z|x) - log p(z) exactly. q(z) and its marginals are estimated over the
    batch by minibatch-weighted sampling (sec. 4.1): log q(z_i) ~= logsumexp_j
    log q(z_i|x_j) - log(N M), for a batch of M rows out of N. Returns three (M,) tensors."""
    m = z.shape[0]
    # log q(z_id | x_j) for every pair of rows, per dimension: (M, M, d)
    log_q = -0.5 * ((z[:, None, :] - mu[None]).pow(2) * torch.exp(-logvar[None])
                    + logvar[None] + LOG_2PI)
    rows = torch.arange(m, device=z.device)
    log_qz_x = log_q[rows, rows].sum(-1)  # log q(z_i | x_i)
    norm = math.log(m * max(int(n_data), m))
    log_qz = torch.logsumexp(log_q.sum(-1), dim=1) - norm
    log_prod = (torch.logsumexp(log_q, dim=1) - norm).sum(-1)
    return log_qz_x - log_qz, log_qz - log_prod, log_prod - log_pz


def row_shares(bounds) -> list[float]:
    """Each slice's share of the rows, for contiguous slices [lo, hi) covering a batch: the
    weight of a slice's mean in the batch's mean (aekit.training.steps.ShardedStep)."""
    n = bounds[-1][1]
    return [(hi - lo) / n for lo, hi in bounds]


def binarized(x: torch.Tensor, generator=None) -> torch.Tensor:
    """x ~ Bernoulli(intensity): dynamic binarisation of [0, 1] data (a new draw for each
    batch in training: Salakhutdinov & Murray 2008; Burda et al. 2016, sec. 5)."""
    return torch.bernoulli(x.clamp(0, 1), generator=generator)


def sparsity_kl(code: torch.Tensor, target: float, eps: float = 1e-6) -> torch.Tensor:
    """sum_j KL(rho || rho_hat_j): Bernoulli KL between the target activation rho and each
    code unit's mean activation rho_hat_j over the batch (Ng, "Sparse autoencoder" notes).
    rho_hat is clamped into (0, 1), so it suits sigmoid codes best."""
    rho_hat = code.mean(dim=0).clamp(eps, 1 - eps)
    rho = target
    return (rho * torch.log(rho / rho_hat)
            + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()


def code_rate_bits(z_noisy: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Bits per row of codes quantised with step 1, (B,): -sum_j log2 p(z~_j) under a
    Gaussian fitted to the batch's codes per dimension (mean mu_j, std s_j of z),
    convolved with the uniform quantisation noise (Balle, Laparra & Simoncelli 2017,
    "End-to-end optimized image compression", eq. 4 and sec. 2.2):
    p(z~) = Phi((z~ - mu + 1/2) / s) - Phi((z~ - mu - 1/2) / s). Both tails are computed
    on the side where Phi is small (their appendix trick), so no probability rounds to 0.
    """
    mu = z.mean(dim=0, keepdim=True)
    s = (z.var(dim=0, unbiased=False, keepdim=True) + 1e-8).sqrt()
    upper, lower = (z_noisy - mu + 0.5) / s, (z_noisy - mu - 0.5) / s
    sign = -torch.sign(upper + lower).detach()
    p = (torch.special.ndtr(sign * upper) - torch.special.ndtr(sign * lower)).abs()
    return -torch.log2(p.clamp_min(1e-9)).sum(dim=1)


def contractive_penalty(model, x: torch.Tensor, generator=None, n_projections: int = 1):
    """Unbiased estimate of the mean squared Frobenius norm of the encoder Jacobian.

    ||J||_F^2 = E_v ||v^T J||^2 for v ~ N(0, I) (Hutchinson): one vector-Jacobian product
    per projection instead of k backward passes. Code i depends only on x_i, so one
    backward of sum(z * v) yields every v_i^T J_i at once.
    """
    x = x.detach().requires_grad_(True)
    z = model.encode(x)
    total = x.new_zeros(())
    for _ in range(n_projections):
        v = torch.randn(z.shape, generator=generator, device=z.device, dtype=z.dtype)
        (g,) = torch.autograd.grad((z * v).sum(), x, create_graph=True)
        total = total + g.pow(2).sum(dim=1).mean()
    return total / n_projections


# --- the composable objective --------------------------------------------------------------
# --- closed forms ---------------------------------------------------------------------------
# The gradients of the terms above for a plain dense autoencoder, next to the terms they
# differentiate. aekit.training.dense_step runs the chain rule through the layers and asks
# the objective (Objective.closed_form) for these; it holds no loss maths of its own.
_aten = torch.ops.aten


def reconstruction_and_grad(kind: str, logits, target, sigmoid_output: bool, buffers: dict):
    """(term, mse, g, scale) with d term / d logits = scale * g, computed into ``buffers``
    ("recon", "diff", "tmp": tensors shaped like ``logits``). The constant ``scale`` is
    left for the caller to fold into its matrix products (their alpha), sparing a pass.

    mse: term = mean (recon - x)^2, d/d recon = 2 (recon - x) / n, through the sigmoid
    output d recon / d logits = recon (1 - recon). bce: BCE with logits, d/d logits =
    (sigmoid(logits) - x) / n."""
    recon = torch.sigmoid(logits, out=buffers["recon"]) if sigmoid_output else logits
    n = target.numel()
    diff = torch.sub(recon, target, out=buffers["diff"])
    flat = diff.view(-1)
    mse = torch.dot(flat, flat) / n
    if kind == "mse":
        g = _aten.sigmoid_backward.grad_input(diff, recon, grad_input=diff) \
            if sigmoid_output else diff
        return mse, mse, g, 2.0 / n
    term = F.binary_cross_entropy_with_logits(logits, target)
    g = diff if sigmoid_output else torch.sub(torch.sigmoid(logits, out=buffers["tmp"]),
                                              target, out=buffers["diff"])
    return term, mse, g, 1.0 / n


def l1_and_grad(code, weight: float):
    """(mean over rows of sum_j |z_j|, weight * its gradient sign(z) / rows)."""
    rows = code.shape[0]
    return code.abs().sum() / rows, torch.sign(code).mul_(weight / rows)


def sparsity_kl_and_grad(code, target: float, weight: float, eps: float = 1e-6):
    """(:func:`sparsity_kl`, weight * its gradient with respect to the code) - through
    rho_hat_j = mean_rows z_j, zero where the clamp is active; shape (1, k), broadcast."""
    mean = code.mean(dim=0)
    rho_hat = mean.clamp(eps, 1 - eps)
    rho = target
    term = (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
            ).sum()
    grad = (1 - rho) / (1 - rho_hat) - rho / rho_hat
    grad = grad.mul_((mean >= eps) & (mean <= 1 - eps))
    return term, grad.unsqueeze(0).mul_(weight / code.shape[0])


@dataclass(frozen=True)
class ClosedForm:
    """An objective's terms with closed-form gradients (see :meth:`Objective.closed_form`):
    ``keys`` the term names in order; ``output(logits, x, sigmoid_output, buffers)`` as
    :func:`reconstruction_and_grad`; ``code(z) -> (term, weighted grad)`` or None;
    ``code_weight``; ``corrupt(x, generator)`` the input noise (None: none)."""

    keys: tuple
    output: object
    code: object
    code_weight: float
    corrupt: object


ANY = object()  # in CLOSED_FORM_FIELDS: every value of the field has a closed form


@dataclass
class Objective:
    """What a training step minimises; every option composes with every architecture."""

    reconstruction: str = "mse"
    noise: str | None = None  # one of NOISE_KINDS: denoising autoencoder
    noise_level: float = 0.0  # gaussian sigma, or probability for mask / salt_pepper
    sparsity: str | None = None  # "l1" on the codes, or "kl" to ``sparsity_target``
    sparsity_weight: float = 0.0
    sparsity_target: float = 0.05
    contractive: float = 0.0  # weight of the contractive penalty
    # Rate-aware training (plain autoencoders): the decoder sees z + U(-1/2, 1/2) instead of
    # z (the quantiser's noise at step 1) and ``rate_weight`` * bits per input value of
    # the quantised code (code_rate_bits) is added: L = distortion + lambda * rate.
    rate_weight: float = 0.0
    # Variational models only:
    beta: float = 1.0  # weight of the KL term (beta-VAE when != 1)
    likelihood: str = "bernoulli"
    likelihood_scale: float = 0.1  # std of the Gaussian likelihood
    kl_warmup_epochs: int = 0  # beta ramps linearly from beta/warmup to beta
    # k > 1: train on the k-sample importance-weighted bound (IWAE, Burda et al. 2016)
    importance_samples: int = 1
    # "dynamic": Bernoulli data drawn from the intensities for every batch (binarized)
    binarize: str | None = None
    # beta-TCVAE (Chen et al. 2018): the KL term split into index-code MI, total
    # correlation and dimension-wise KL, the total correlation weighted tc_weight (1: the
    # ELBO's KL itself); dataset_size is N of the minibatch-weighted sampling estimator
    # (the estimator sets it to the training rows; 0: the batch's size)
    tc_weight: float = 1.0
    dataset_size: int = 0

    def __post_init__(self):
        def fail(msg):
            raise ConfigError(msg)

        if self.reconstruction not in RECONSTRUCTIONS:
            fail(f"reconstruction {self.reconstruction!r} is not one of {list(RECONSTRUCTIONS)}")
        if self.noise is not None and self.noise not in NOISE_KINDS:
            fail(f"noise {self.noise!r} is not one of {list(NOISE_KINDS)}")
        if self.noise in ("mask", "salt_pepper") and not 0 <= self.noise_level < 1:
            fail(f"noise_level for {self.noise} noise is a probability in [0, 1), "
                 f"got {self.noise_level}")
        if self.noise_level < 0 or not math.isfinite(self.noise_level):
            fail(f"noise_level must be a finite number >= 0, got {self.noise_level}")
        if self.sparsity is not None and self.sparsity not in SPARSITY_KINDS:
            fail(f"sparsity {self.sparsity!r} is not one of {list(SPARSITY_KINDS)}")
        if not 0 < self.sparsity_target < 1:
            fail(f"sparsity_target must be in (0, 1), got {self.sparsity_target}")
        for name in ("sparsity_weight", "contractive", "beta", "rate_weight", "tc_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                fail(f"{name} must be a finite number >= 0, got {value}")
        if self.likelihood not in LIKELIHOODS:
            fail(f"likelihood {self.likelihood!r} is not one of {list(LIKELIHOODS)}")
        if not self.likelihood_scale > 0:
            fail(f"likelihood_scale must be > 0, got {self.likelihood_scale}")
        if self.kl_warmup_epochs < 0:
            fail(f"kl_warmup_epochs must be >= 0, got {self.kl_warmup_epochs}")
        k = self.importance_samples
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            fail(f"importance_samples must be an integer >= 1, got {k!r}")
        if k > 1 and (self.beta != 1 or self.kl_warmup_epochs):
            fail("importance_samples > 1 trains on the importance-weighted bound, which has "
                 "no KL term to weight: use beta=1 and kl_warmup_epochs=0 with it")
        n = self.dataset_size
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            fail(f"dataset_size must be an integer >= 0, got {n!r}")
        if self.tc_weight != 1 and (self.beta != 1 or k > 1):
            fail("tc_weight weights the total correlation inside the KL term (beta-TCVAE): "
                 "use it with beta=1 and importance_samples=1")
        if self.binarize not in BINARIZE:
            fail(f"binarize {self.binarize!r} is not one of {list(BINARIZE)}")
        if self.binarize is not None and self.likelihood != "bernoulli":
            fail("binarize='dynamic' draws Bernoulli data: it needs likelihood='bernoulli'")

    def to_dict(self) -> dict:
        return asdict(self)

    def kl_weight(self, epoch: int) -> float:
        """beta, ramped linearly over the first ``kl_warmup_epochs`` epochs (0-based)."""
        if self.kl_warmup_epochs <= 0:
            return self.beta
        return self.beta * min(1.0, (epoch + 1) / self.kl_warmup_epochs)

    # For each field, the values for which a plain dense autoencoder's gradient is known in
    # closed form (closed_form below). A field missing here - one added later - or another
    # value makes closed_form() return None and training use autograd: never ignored.
    CLOSED_FORM_FIELDS = {
        "reconstruction": ("mse", "bce"), "noise": ANY, "noise_level": ANY,
        "sparsity": (None, "l1", "kl"), "sparsity_weight": ANY, "sparsity_target": ANY,
        "contractive": (0, 0.0), "rate_weight": (0, 0.0),
        # variational fields: a plain autoencoder's loss has no term for them
        "beta": ANY, "likelihood": ANY, "likelihood_scale": ANY, "kl_warmup_epochs": ANY,
        "importance_samples": ANY, "binarize": ANY, "tc_weight": ANY, "dataset_size": ANY,
    }

    def closed_form(self) -> ClosedForm | None:
        """This objective's terms with closed-form gradients, or None when some option has
        none (or a subclass computes the loss its own way)."""
        if type(self).__call__ is not Objective.__call__:
            return None
        for f in fields(self):
            allowed = self.CLOSED_FORM_FIELDS.get(f.name)
            if allowed is None or (allowed is not ANY and getattr(self, f.name) not in allowed):
                return None
        active = self.sparsity if self.sparsity_weight > 0 else None
        kind = self.reconstruction
        code = {"l1": l1_and_grad,
                "kl": lambda z, w: sparsity_kl_and_grad(z, self.sparsity_target, w)}.get(active)
        return ClosedForm(
            keys=("recon", *({"l1": ("l1",), "kl": ("sparsity_kl",)}.get(active, ())),
                  "mse", "loss"),
            output=lambda logits, x, sigmoid, buffers: reconstruction_and_grad(
                kind, logits, x, sigmoid, buffers),
            code=code, code_weight=self.sparsity_weight,
            corrupt=self.corrupt if self.noise is not None and self.noise_level > 0 else None)

    @property
    def shardable(self) -> bool:
        """Whether a batch's loss is the row-weighted sum of its slices' losses (so a step
        may run on slices: aekit.training.steps.ShardedStep). Not when a term is a statistic
        of the whole batch: the KL sparsity penalty (the batch's mean activation), the
        rate (a Gaussian fitted to the batch's codes), or Gaussian noise, clipped to [0, 1]
        when the batch lies there."""
        return not ((self.sparsity == "kl" and self.sparsity_weight > 0)
                    or self.rate_weight > 0
                    or (self.noise == "gaussian" and self.noise_level > 0)
                    or self.tc_weight != 1)

    def shard_weights(self, batch, bounds) -> list[float]:
        """Each slice's share of the batch's loss: its share of the rows (every term is a
        mean over rows)."""
        return row_shares(bounds)

    def corrupt(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        """The training-time corruption of a clean batch. Gaussian noise is clipped to
        [0, 1] only when the clean batch lies in [0, 1] (pixel intensities); real-valued
        data (standardised tables) is never clipped, which would cut away its negative half."""
        if self.noise is None or self.noise_level == 0:
            return x
        clip = self.noise != "gaussian" or bool(x.min() >= 0) and bool(x.max() <= 1)
        return corrupt(x, self.noise, self.noise_level, generator, clip=clip)

    def __call__(self, model, x: torch.Tensor, *, generator=None, epoch: int = 0,
                 train: bool = True) -> dict:
        """Loss terms for a clean batch ``x`` (B, D); ``terms["loss"]`` is minimised.

        With ``train=True`` the input is corrupted (denoising) and the contractive penalty
        (which needs input gradients) is included; evaluation passes ``train=False``.
        """
        if self.binarize == "dynamic" and model.variational:
            x = binarized(x, generator)  # training batches and held-out ones alike
        x_in = self.corrupt(x, generator) if train else x
        if model.variational and self.importance_samples > 1:
            return self._importance_weighted(model, x_in, x, generator)
        rate = None
        if self.rate_weight > 0:
            if model.variational:
                raise ConfigError("rate_weight applies to plain autoencoders (a VAE's KL "
                                  "term is its rate)")
            z, context = model.encode_with_context(x_in)  # (B, k)
            if train:  # additive uniform noise stands in for rounding (Balle et al. 2017)
                z_noisy = z + torch.rand(z.shape, generator=generator, device=z.device,
                                         dtype=z.dtype) - 0.5
            else:
                z_noisy = torch.round(z)
            logits = model.decode_logits(z_noisy, context)
            out = {"code": z, "logits": logits, "recon": model.output(logits)}
            rate = code_rate_bits(z_noisy, z).mean() / x.shape[1]  # bits per input value
        else:
            out = model(x_in, generator=generator)
        terms = {}
        if model.variational:
            recon = negative_log_likelihood(out, x, self.likelihood, self.likelihood_scale).mean()
            if self.tc_weight != 1:  # beta-TCVAE: the KL term in its three parts
                mi, tc, dim_kl = (t.mean() for t in kl_decomposition(
                    out["code"], out["mu"], out["logvar"], model.log_prior(out["code"]),
                    self.dataset_size or len(x)))
                kl = mi + tc + dim_kl
                terms.update(recon=recon, kl=kl, mi=mi, tc=tc, dim_kl=dim_kl)
                loss = recon + self.kl_weight(epoch) * (mi + self.tc_weight * tc + dim_kl)
            else:
                kl = model.kl_to_prior(out["mu"], out["logvar"], out["code"]).mean()
                terms["recon"], terms["kl"] = recon, kl
                loss = recon + self.kl_weight(epoch) * kl
        else:
            loss = terms["recon"] = reconstruction(out, x, self.reconstruction)
        if self.sparsity == "l1" and self.sparsity_weight > 0:
            terms["l1"] = out["code"].abs().sum(dim=1).mean()
            loss = loss + self.sparsity_weight * terms["l1"]
        elif self.sparsity == "kl" and self.sparsity_weight > 0:
            terms["sparsity_kl"] = sparsity_kl(out["code"], self.sparsity_target)
            loss = loss + self.sparsity_weight * terms["sparsity_kl"]
        if self.contractive > 0 and train:
            terms["contractive"] = contractive_penalty(model, x_in, generator)
            loss = loss + self.contractive * terms["contractive"]
        if rate is not None:
            terms["rate"] = rate
            loss = loss + self.rate_weight * rate
        # Per-pixel MSE, comparable to PCA. For a plain MSE autoencoder it is the
        # reconstruction term itself (same inputs, same formula): reuse it, no second pass.
        if self.reconstruction == "mse" and not model.variational:
            terms["mse"] = terms["recon"].detach()
        else:
            terms["mse"] = F.mse_loss(out["recon"].detach(), x)
        terms["loss"] = loss
        return terms


    def _importance_weighted(self, model, x_in, x, generator) -> dict:
        """The k-sample importance-weighted bound (IWAE: Burda et al. 2016, eq. 8) with
        reparameterised samples, as ``loss`` = -bound (nats per row); ``kl`` (as the ELBO
        reports it) and ``mse`` (of the first sample) for monitoring."""
        k = self.importance_samples
        mu, logvar = model.encode_distribution(x_in)
        eps = torch.randn((k, *mu.shape), generator=generator, device=mu.device,
                          dtype=mu.dtype)

        def nll(logits, targets):
            return negative_log_likelihood({"logits": logits, "recon": model.output(logits)},
                                           targets, self.likelihood, self.likelihood_scale)

        log_w, logits = importance_log_weights(model, mu, logvar, x, eps, nll)
        loss = -(torch.logsumexp(log_w, dim=0) - math.log(k)).mean()
        with torch.no_grad():  # monitoring: the closed form, or estimated at a sample
            kl = model.kl_to_prior(mu, logvar, mu + torch.exp(0.5 * logvar) * eps[0]).mean()
        mse = F.mse_loss(model.output(logits[:len(x)]).detach(), x)
        return {"kl": kl, "mse": mse, "loss": loss}


class CrossEntropy:
    """The supervised objective (a classifier head, fine-tuning, a segmenter): softmax
    cross-entropy of the model's logits (B, n_classes) against integer labels (B,), in
    nats per row - or per pixel, for logits (B, n_classes, H, W) against masks (B, H, W).
    Batches are ``(x, y)`` pairs (:class:`aekit.io.rows.LabelledSource`); the model returns
    the logits, or the output dict holding them; ``accuracy`` (of rows, or of pixels) is
    reported beside the loss.

    ``weight``: one weight per class (e.g. SegNet's median-frequency balancing), giving
    the weighted mean sum_i w_{y_i} l_i / sum_i w_{y_i} (torch's ``cross_entropy``)."""

    shardable = True

    def __init__(self, weight=None):
        self.weight = None if weight is None else torch.as_tensor(weight, dtype=torch.float32)

    def shard_weights(self, batch, bounds) -> list[float]:
        """Each slice's share of the batch's loss: of its rows, or with class weights of the
        batch's total weight sum_i w_{y_i}, so that the weighted shard means add up to the
        batch's weighted mean exactly."""
        if self.weight is None:
            return row_shares(bounds)
        w = self.weight.to(batch[1].device)[batch[1]].double()
        per_row = w.reshape(len(w), -1).sum(dim=1)
        total = float(per_row.sum())
        return [float(per_row[lo:hi].sum()) / total for lo, hi in bounds]

    def __call__(self, model, batch, *, generator=None, epoch: int = 0,
                 train: bool = True) -> dict:
        x, y = batch
        logits = model(x)
        if isinstance(logits, dict):
            logits = logits["logits"]
        weight = None if self.weight is None else self.weight.to(logits.device)
        return {"accuracy": (logits.detach().argmax(dim=1) == y).double().mean(),
                "loss": F.cross_entropy(logits, y, weight=weight)}
