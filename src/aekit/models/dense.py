"""Fully connected encoders and decoders, untied and tied."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from aekit.models.layers import activation, linear


class DenseEncoder(nn.Module):
    """x (B, n_in) -> h (B, sizes[-1]) through Linear + activation layers.

    ``activations[i]`` follows layer i, so the code layer can have its own activation
    (e.g. relu hidden layers with a linear code).
    """

    def __init__(self, n_in: int, sizes: Sequence[int], activations: Sequence[str]):
        super().__init__()
        assert len(sizes) == len(activations)
        dims = [n_in, *sizes]
        self.layers = nn.ModuleList(
            linear(a, b, act) for a, b, act in zip(dims[:-1], dims[1:], activations)
        )
        self.acts = nn.ModuleList(activation(a) for a in activations)
        self.activation_names = list(activations)
        self.out_features = dims[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer, act in zip(self.layers, self.acts):
            x = act(layer(x))
        return x


class DenseDecoder(nn.Module):
    """z (B, sizes[0]) -> pre-activation output (B, sizes[-1]).

    The last layer returns the *pre-activation*: the model applies the output activation, so
    a sigmoid output can be trained with BCE-with-logits, which is exact where
    ``log(sigmoid(.))`` would round to -inf.
    """

    def __init__(self, sizes: Sequence[int], activations: Sequence[str], output_activation: str):
        super().__init__()
        assert len(sizes) - 2 == len(activations)
        acts = [*activations, output_activation]
        self.layers = nn.ModuleList(
            linear(a, b, act) for a, b, act in zip(sizes[:-1], sizes[1:], acts)
        )
        self.acts = nn.ModuleList(activation(a) for a in activations)

    def forward(self, z: torch.Tensor, context=None) -> torch.Tensor:
        *hidden, last = self.layers
        for layer, act in zip(hidden, self.acts):
            z = act(layer(z))
        return last(z)


class TiedDenseDecoder(nn.Module):
    """Decoder whose layer l uses the transposed weight of encoder layer N-l+1.

    W_dec[l] = W_enc[N-l+1]^T: the decoder owns only its biases (one per layer), so the
    whole autoencoder has about half the weights of the untied one (Géron's DenseTranspose).
    The encoder is *referenced*, not registered, so its weights appear once in
    ``state_dict`` and ``parameters()``.
    """

    def __init__(self, encoder: DenseEncoder, hidden_activations: Sequence[str]):
        super().__init__()
        self.__dict__["_encoder"] = encoder  # bypass nn.Module registration on purpose
        n_out = [layer.in_features for layer in reversed(encoder.layers)]
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(n)) for n in n_out)
        self.acts = nn.ModuleList(activation(a) for a in hidden_activations)

    def forward(self, z: torch.Tensor, context=None) -> torch.Tensor:
        layers = list(reversed(self._encoder.layers))
        for i, (layer, bias) in enumerate(zip(layers, self.biases)):
            z = F.linear(z, layer.weight.t(), bias)  # (B, out_l) @ W_l -> (B, in_l)
            if i < len(self.acts):
                z = self.acts[i](z)
        return z
