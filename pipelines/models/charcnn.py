"""Character-level CNN (Zhang, Zhao & LeCun 2015, the "small" model), sized for sentence data.

Characters are quantized one-hot over the character vocabulary (``<pad>`` and unknown characters are the
zero vector, as in the paper), then six temporal convolutions (kernels 7, 7, 3, 3, 3, 3; max-pooling by 3
after the 1st, 2nd and 6th), two fully connected layers with dropout, and the output layer.

The paper reads a fixed 1014 characters and flattens; sentences are short (TREC averages ~50 characters),
so this version pads each batch only to its longest text (at least :attr:`min_length`, the shortest input
the six layers accept) and takes the max over the remaining positions instead of flattening.

Weights use He initialisation rather than the paper's N(0, 0.05): one-hot inputs of mostly padding through
nine ReLU layers without normalisation shrink the signal layer by layer, and with the paper's (or PyTorch's
default) init two different sentences reach the classifier as almost the same vector, so training stalls.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

from pipelines.text.vocab import PAD_ID, UNK_ID

KERNELS = (7, 7, 3, 3, 3, 3)
POOLED_AFTER = (0, 1, 5)
POOL = 3


def shortest_input() -> int:
    """Length L such that every layer still has at least one position: run the stack backwards."""
    length = 1
    for index in reversed(range(len(KERNELS))):
        if index in POOLED_AFTER:
            length *= POOL
        length += KERNELS[index] - 1
    return length


class CharCNN(nn.Module):
    min_length = shortest_input()

    def __init__(self, vocab_size: int, num_classes: int, num_features: int, hidden_size: int, dropout: float):
        super().__init__()
        quantize = torch.eye(vocab_size)
        quantize[PAD_ID] = 0.0
        quantize[UNK_ID] = 0.0
        self.register_buffer("quantize", quantize, persistent=False)
        layers: list[nn.Module] = []
        channels = vocab_size
        for index, kernel in enumerate(KERNELS):
            layers += [nn.Conv1d(channels, num_features, kernel), nn.ReLU()]
            if index in POOLED_AFTER:
                layers.append(nn.MaxPool1d(POOL))
            channels = num_features
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Linear(num_features, hidden_size),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_size, hidden_size),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_size, num_classes),
        )
        for module in self.modules():
            if isinstance(module, (nn.Conv1d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] < self.min_length:
            ids = functional.pad(ids, (0, self.min_length - ids.shape[1]), value=PAD_ID)
        one_hot = functional.embedding(ids, self.quantize).transpose(1, 2)
        return self.classifier(self.features(one_hot).amax(dim=2))
