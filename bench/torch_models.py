"""The seed convnet in PyTorch, for the reference benchmark and the ONNX export (dev-only)."""
import torch.nn as nn


def seed_convnet():
    """The book's cats-vs-dogs convnet (5.2), channels first."""
    return nn.Sequential(
        nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(128, 128, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(6272, 512), nn.ReLU(), nn.Linear(512, 1),
    )


def activation_outputs(feats, inp):
    """Every conv (after its ReLU) and pool output, as getActivations returns them."""
    outs, h = [], inp
    for layer in feats:
        h = layer(h)
        if isinstance(layer, (nn.ReLU, nn.MaxPool2d)):
            outs.append(h)
    return outs


class ActivationModel(nn.Module):
    """The 8 activation outputs of the seed convnet as one model (for ONNX)."""

    def __init__(self):
        super().__init__()
        self.features = seed_convnet()[:12]

    def forward(self, x):
        return tuple(activation_outputs(self.features, x))
