"""The VQ-VAE's two objectives (van den Oord, Vinyals & Kavukcuoglu 2017):

- :class:`VQObjective`, the autoencoder's: reconstruction + beta * commitment, where the
  commitment ||z_e - sg(e)||^2 holds the encoder's outputs near their codebook vectors
  (eq. 3; the codebook itself moves by moving averages inside the network, so the
  codebook term of eq. 3 is not needed). ``perplexity`` of the batch's codes is reported.
- :class:`IndexPriorObjective`, the prior's: cross-entropy of each index of a grid given
  the ones before it, nats per index (batches are index grids).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from aekit.errors import ConfigError
from aekit.losses.objectives import RECONSTRUCTIONS, reconstruction


def perplexity(index: torch.Tensor, codebook_size: int) -> torch.Tensor:
    """exp of the entropy of the codes' frequencies: how many codes are in use, as if
    used equally (1 .. K)."""
    p = torch.bincount(index.reshape(-1).long(), minlength=codebook_size).double()
    p = p / p.sum().clamp_min(1)
    return torch.exp(-(p * torch.log(p.clamp_min(1e-30))).sum())


class VQObjective:
    """Reconstruction (mean per value, 'mse' or 'bce') + ``commitment`` x the commitment
    term (mean per value of the encoder's outputs). Not shardable: the codebook moves
    with each batch, once per step."""

    shardable = False

    def __init__(self, reconstruction: str = "mse", commitment: float = 0.25):
        if reconstruction not in RECONSTRUCTIONS:
            raise ConfigError(f"reconstruction {reconstruction!r} is not one of "
                              f"{list(RECONSTRUCTIONS)}")
        if isinstance(commitment, bool) or not math.isfinite(commitment) or commitment < 0:
            raise ConfigError(f"commitment must be a finite number >= 0, got {commitment!r}")
        self.reconstruction, self.commitment = reconstruction, float(commitment)

    def to_dict(self) -> dict:
        return {"reconstruction": self.reconstruction, "commitment": self.commitment}

    def __call__(self, model, x: torch.Tensor, *, generator=None, epoch: int = 0,
                 train: bool = True) -> dict:
        out = model(x, generator=generator)
        recon = reconstruction(out, x, self.reconstruction)
        commit = F.mse_loss(out["z_e"], out["z_q"].detach())
        with torch.no_grad():
            mse = recon.detach() if self.reconstruction == "mse" else \
                F.mse_loss(out["recon"].detach(), x)
            used = perplexity(out["code"], model.codebook_size)
        return {"recon": recon, "commitment": commit, "mse": mse, "perplexity": used,
                "loss": recon + self.commitment * commit}


class IndexPriorObjective:
    """-log p(k_i | k_<i), nats per index, of batches of index grids (B, h*w) under an
    :class:`aekit.models.IndexPrior`; ``accuracy``: how often its most probable index is
    the one that comes."""

    shardable = False

    def to_dict(self) -> dict:
        return {"prior": "pixelcnn"}

    def __call__(self, model, rows: torch.Tensor, *, generator=None, epoch: int = 0,
                 train: bool = True) -> dict:
        logits = model(rows)  # (B, K, h*w)
        target = rows.long()
        loss = F.cross_entropy(logits, target)
        with torch.no_grad():
            accuracy = (logits.argmax(dim=1) == target).double().mean()
        return {"accuracy": accuracy, "loss": loss}
