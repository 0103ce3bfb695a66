"""The few-label networks' losses (:mod:`aekit.models.semisupervised`): the ladder's
cross-entropy plus denoising costs, and M2's bound over labelled and unlabelled rows.
Batches are ``(x, x_l, y_l)`` (:class:`aekit.io.rows.SemiSupervisedSource`): rows of all
the data (used as unlabelled) and labelled rows with their class indices."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from aekit.losses.objectives import negative_log_likelihood


def ladder_terms(net, batch, generator=None) -> dict:
    """The ladder's training loss for one batch: cross-entropy of the corrupted encoder's
    output on the labelled rows plus each layer's weighted denoising cost on the unlabelled
    rows ``x`` (the decoder's estimate, normalised with the clean encoder's batch
    statistics, against the clean encoder's z; Rasmus et al. 2015, Algorithm 1). Labelled
    and unlabelled rows are normalised with their own batch statistics, as in the paper's
    code. ``net``: a :class:`~aekit.models.semisupervised.LadderNetwork`."""
    x, xl, yl = batch
    noise, costs = net.config.noise_std, net.config.denoising_costs
    x, xl = net.augment(x, generator), net.augment(xl, generator)
    logits_l = net._encoder(xl, noise, generator)[1]
    ce = F.cross_entropy(logits_l, yl)
    clean_z, _, means, stds = net._encoder(x, 0.0, update=True)
    noisy_z, noisy_top, _, _ = net._encoder(x, noise, generator)
    denoise = x.new_zeros(())
    z_hat = None  # the layer above's estimate (top-down), set as the loop goes down
    for layer in range(len(noisy_z) - 1, -1, -1):
        if layer == len(noisy_z) - 1:
            u = net.normalise(torch.softmax(noisy_top, dim=1))[0]
        else:
            u = net.normalise(net.down[layer](z_hat))[0]
        z_hat = net.combinators[layer](noisy_z[layer], u)
        if costs[layer] == 0:
            continue
        target = clean_z[layer].detach() if layer == 0 else clean_z[layer]
        z_bn = z_hat if layer == 0 else (z_hat - means[layer]) / stds[layer]
        cost = ((z_bn - target) ** 2).sum(dim=1).mean() / z_hat.shape[1]
        denoise = denoise + costs[layer] * cost
    with torch.no_grad():
        accuracy = (logits_l.argmax(dim=1) == yl).double().mean()
    return {"cross_entropy": ce, "denoising": denoise, "accuracy": accuracy,
            "loss": ce + denoise}


def m2_bound(net, x, y, generator=None):
    """-ELBO(x, y) per row (B,), nats, of an
    :class:`~aekit.models.semisupervised.M2Network`: one reparameterised sample of z, the
    closed-form KL to N(0, I), and -log p(y) = log C (Kingma et al. 2014, eq. 6)."""
    mu, logvar = net.posterior(x, y)
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    z = mu + (0.5 * logvar).exp() * eps
    kl = 0.5 * (mu * mu + logvar.exp() - 1 - logvar).sum(dim=1)
    out = net.decode_logits(z, y)
    c = net.config
    nll = negative_log_likelihood({"logits": out, "recon": out}, x, c.likelihood, c.scale)
    return nll + kl + math.log(c.n_classes)


def m2_terms(net, batch, generator=None, alpha: float = 1.0) -> dict:
    """The M2 loss for one batch (Kingma et al. 2014, eq. 9), per row: the labelled rows'
    -ELBO(x, y) plus ``alpha`` times their classification cross-entropy, and the unlabelled
    rows' sum over the classes of q(y|x) -ELBO(x, y) minus the entropy of q(y|x) (eq. 7)."""
    x, xl, yl = batch
    C = net.config.n_classes
    labelled = m2_bound(net, xl, yl, generator)
    logits_l = net.classifier(xl)
    ce = F.cross_entropy(logits_l, yl)
    q = torch.softmax(net.classifier(x), dim=1)  # (B, C)
    ys = torch.arange(C, device=x.device).repeat_interleave(len(x))
    per_class = m2_bound(net, x.repeat(C, 1), ys, generator).reshape(C, len(x)).T  # (B, C)
    entropy = -(q * torch.log(q.clamp_min(1e-12))).sum(dim=1)
    unlabelled = (q * per_class).sum(dim=1) - entropy
    with torch.no_grad():
        accuracy = (logits_l.argmax(dim=1) == yl).double().mean()
    return {"labelled_bound": labelled.mean(), "unlabelled_bound": unlabelled.mean(),
            "cross_entropy": ce, "accuracy": accuracy,
            "loss": labelled.mean() + unlabelled.mean() + alpha * ce}


# a network's name (its config's) -> its loss
TERMS = {"ladder": ladder_terms, "m2": m2_terms}


class SemiSupervisedObjective:
    """The few-label networks' objective: the loss of the network's kind (:data:`TERMS`)
    on batches ``(x, x_l, y_l)``. ``options``: keywords of that loss (M2's ``alpha``). Not
    shardable: the ladder normalises with whole-batch statistics."""

    shardable = False

    def __init__(self, **options):
        self.options = options

    def __call__(self, model, batch, *, generator=None, epoch: int = 0,
                 train: bool = True) -> dict:
        network = getattr(model, "module", model)  # DDP wraps the network
        return TERMS[network.config.name](network, batch, generator=generator,
                                          **self.options)
