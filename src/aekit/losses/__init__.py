"""Loss terms and the composable training objective."""

from aekit.losses.objectives import (
    BINARIZE,
    LIKELIHOODS,
    NOISE_KINDS,
    RECONSTRUCTIONS,
    SPARSITY_KINDS,
    CrossEntropy,
    Objective,
    SemiSupervisedObjective,
    binarized,
    contractive_penalty,
    corrupt,
    importance_log_weights,
    kl_decomposition,
    negative_log_likelihood,
    reconstruction,
    sparsity_kl,
)

__all__ = [
    "BINARIZE",
    "LIKELIHOODS",
    "NOISE_KINDS",
    "RECONSTRUCTIONS",
    "SPARSITY_KINDS",
    "CrossEntropy",
    "Objective",
    "SemiSupervisedObjective",
    "binarized",
    "contractive_penalty",
    "corrupt",
    "importance_log_weights",
    "kl_decomposition",
    "negative_log_likelihood",
    "reconstruction",
    "sparsity_kl",
]
