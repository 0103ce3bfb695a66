"""Loss terms and the composable training objective."""

from aekit.losses.objectives import (
    BINARIZE,
    LIKELIHOODS,
    NOISE_KINDS,
    RECONSTRUCTIONS,
    SPARSITY_KINDS,
    CrossEntropy,
    Objective,
    binarized,
    contractive_penalty,
    corrupt,
    importance_log_weights,
    kl_decomposition,
    negative_log_likelihood,
    reconstruction,
    sparsity_kl,
)
from aekit.losses.quantized import IndexPriorObjective, VQObjective, perplexity
from aekit.losses.semisupervised import (
    SemiSupervisedObjective, ladder_terms, m2_bound, m2_terms,
)

__all__ = [
    "BINARIZE",
    "LIKELIHOODS",
    "NOISE_KINDS",
    "RECONSTRUCTIONS",
    "SPARSITY_KINDS",
    "CrossEntropy",
    "IndexPriorObjective",
    "Objective",
    "SemiSupervisedObjective",
    "VQObjective",
    "binarized",
    "contractive_penalty",
    "corrupt",
    "importance_log_weights",
    "kl_decomposition",
    "ladder_terms",
    "m2_bound",
    "m2_terms",
    "negative_log_likelihood",
    "perplexity",
    "reconstruction",
    "sparsity_kl",
]
