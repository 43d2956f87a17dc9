#!/usr/bin/python3
"""PyTorch's own speed on VGG16's convolutions at 150², batch 64 (the
64-filter ascent rows' shapes), for bench/bound.ts: forward, and forward
plus input gradient through ReLU, best of 3 after a warm-up. Same settings as
torch_reference.py (threads from argv[1], denormals flushed). Dev-only;
prints one JSON line: [{"shape": [h, cin, cout], "forwardMs", "stepMs",
"gflops"}], gflops counting a direct convolution's multiply-adds.
"""
import json
import sys
import time

import torch
import torch.nn as nn

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
torch.set_flush_denormal(True)
torch.manual_seed(0)
SHAPES = [(150, 3, 64), (150, 64, 64), (75, 64, 128), (75, 128, 128), (37, 128, 256), (37, 256, 256),
          (18, 256, 512), (18, 512, 512), (9, 512, 512)]
BATCH = 64


def best(fn, runs=3):
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return min(times)


rows = []
for h, cin, cout in SHAPES:
    conv = nn.Conv2d(cin, cout, 3, padding=1)
    for p in conv.parameters():
        p.requires_grad_(False)
    x = torch.rand(BATCH, cin, h, h).requires_grad_(True)

    def forward():
        with torch.no_grad():
            return conv(x)

    def step():
        (g,) = torch.autograd.grad(torch.relu(conv(x)).sum(), x)
        return g

    ms = best(forward)
    rows.append({
        "shape": [h, cin, cout],
        "forwardMs": ms,
        "stepMs": best(step),
        "gflops": 2 * BATCH * h * h * 9 * cin * cout / ms / 1e6,
    })
print(json.dumps(rows))
