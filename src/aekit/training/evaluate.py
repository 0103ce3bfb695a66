"""Mean loss terms over a data set, without training: the validation pass and the
benchmarks' test loss."""

from __future__ import annotations

import torch

from aekit.io.rows import make_source


@torch.inference_mode()
def evaluate(model, objective, X, *, batch_size: int = 1024, seed: int = 0, epoch: int = 0,
             device=None) -> dict:
    """Mean loss terms over X without corruption or gradients (``eval()`` mode).

    VAE sampling uses its own generator seeded with ``seed``, so evaluation never advances
    the training RNG and gives the same number every time.
    """
    p = next(model.parameters())
    source = make_source(X, device=device or p.device)
    g = torch.Generator(device=p.device).manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        sums: dict = {}
        for start in range(0, source.n, batch_size):
            idx = torch.arange(start, min(start + batch_size, source.n), device=p.device)
            xb = source.batch(idx)
            terms = objective(model, xb, generator=g, epoch=epoch, train=False)
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(idx)
        return {k: v / source.n for k, v in sums.items()}
    finally:
        model.train(was_training)
