#!/usr/bin/python3
"""Dev-only: exports the seed convnet's activation model (8 outputs, batch free)
to ONNX for the onnxruntime-web column of the benchmark.

    /usr/bin/python3 bench/export_onnx.py .cache/bench-ort/seed_activations.onnx

Needs Debian's python3-torch. Random weights: timing does not depend on them.
"""
import sys

import torch

from torch_models import ActivationModel

out = sys.argv[1] if len(sys.argv) > 1 else ".cache/bench-ort/seed_activations.onnx"
torch.manual_seed(0)
model = ActivationModel().eval()
names = [f"out{i}" for i in range(8)]
torch.onnx.export(
    model,
    torch.rand(1, 3, 150, 150),
    out,
    input_names=["input"],
    output_names=names,
    dynamic_axes={"input": {0: "batch"}, **{n: {0: "batch"} for n in names}},
    opset_version=13,
)
print(out, file=sys.stderr)
