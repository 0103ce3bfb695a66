"""A classifier's head on an autoencoder's codes (aekit.estimators.AutoencoderClassifier);
the fitted model owns it (aekit.fitted.FittedAutoencoder.head)."""

from __future__ import annotations

import torch


class CodeHead(torch.nn.Module):
    """Softmax-regression head on codes: ``logits = W (z - mean) / scale + b``.
    ``mean``/``scale`` (k,) are fixed buffers (identity until :meth:`set_statistics`)."""

    def __init__(self, code_size: int, n_classes: int):
        super().__init__()
        self.linear = torch.nn.Linear(code_size, n_classes)
        self.register_buffer("mean", torch.zeros(code_size))
        self.register_buffer("scale", torch.ones(code_size))

    @torch.no_grad()
    def set_statistics(self, codes: torch.Tensor) -> None:
        """Standardise with the column means/stds of ``codes`` (n, k); a constant
        column keeps scale 1."""
        std = codes.std(dim=0)
        self.mean.copy_(codes.mean(dim=0))
        self.scale.copy_(torch.where(std > 1e-8, std, torch.ones_like(std)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.linear((z - self.mean) / self.scale)  # (B, k) -> (B, n_classes)
