"""Loss terms and the composable training objective."""

from aekit.losses.objectives import (
    LIKELIHOODS,
    NOISE_KINDS,
    RECONSTRUCTIONS,
    SPARSITY_KINDS,
    CrossEntropy,
    Objective,
    contractive_penalty,
    corrupt,
    negative_log_likelihood,
    kl_to_standard_normal,
    reconstruction,
    sparsity_kl,
)

__all__ = [
    "LIKELIHOODS",
    "NOISE_KINDS",
    "RECONSTRUCTIONS",
    "SPARSITY_KINDS",
    "CrossEntropy",
    "Objective",
    "contractive_penalty",
    "corrupt",
    "negative_log_likelihood",
    "kl_to_standard_normal",
    "reconstruction",
    "sparsity_kl",
]
