#!/usr/bin/python3
"""The same workloads in PyTorch (CPU, 2 threads), for side-by-side ratios.

Dev-only: Debian's python3-torch. Prints one JSON line like bench/workloads.ts.
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn

from torch_models import activation_outputs, seed_convnet

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
# PyTorch at its fastest: subnormal floats flushed to zero (the iterated
# ascent produces them, and x86 computes on them many times slower; WASM
# cannot flush them).
FLUSH = torch.set_flush_denormal(True)
torch.manual_seed(0)
# What the numbers were measured with, on stderr (the raw output keeps it).
print(torch.__config__.show(), file=sys.stderr)
print(
    f"torch {torch.__version__}: {torch.get_num_threads()} threads, "
    f"{torch.get_num_interop_threads()} inter-op threads, denormals flushed: {FLUSH}",
    file=sys.stderr,
)
quick = "--quick" in sys.argv
results = []


ONLY = sys.argv[sys.argv.index("--only") + 1].split("|") if "--only" in sys.argv else None


def timed(name, fn, max_runs=25, budget=6.0, items=None, unit=None, warmups=3):
    if ONLY and not any(o in name for o in ONLY):
        return
    # Three warm-up runs, and at least a second of them, as on the TypeScript side.
    n = 1 if "--quick" in sys.argv else warmups
    warm_start = time.perf_counter()
    for _ in range(n):
        fn()
    while n == 3 and time.perf_counter() - warm_start < 1.0:
        fn()
    times = []
    start = time.perf_counter()
    runs = 2 if quick else max_runs
    while len(times) < runs and (not times or time.perf_counter() - start < (1 if quick else budget)):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    ms = statistics.median(times)
    r = {"name": name, "ms": ms, "runs": len(times)}
    if items:
        r["perSecond"] = items * 1000 / ms
        r["unit"] = unit
    results.append(r)
    print(f"  {name}: {ms:.1f} ms ({len(times)} runs)", file=sys.stderr)


def vgg16_features():
    layers, cin, names = [], 3, []
    for b, (f, n) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], 1):
        for c in range(1, n + 1):
            layers += [nn.Conv2d(cin, f, 3, padding=1), nn.ReLU()]
            names += [f"block{b}_conv{c}", None]
            cin = f
        layers.append(nn.MaxPool2d(2))
        names.append(f"block{b}_pool")
    return layers, names


with torch.no_grad():
    x = torch.randn(1, 64, 72, 72)
    conv = nn.Conv2d(64, 128, 3, padding=1, bias=False)
    timed("conv2d forward 72×72×64→128, 3×3", lambda: conv(x))


with torch.no_grad():
    model = seed_convnet().eval()
    for batch in (1, 16):
        inp = torch.rand(batch, 3, 150, 150)
        timed(f"activations, seed convnet, batch {batch}", lambda: activation_outputs(model[:12], inp), items=batch, unit="images/s")

layers, names = vgg16_features()
vgg = nn.Sequential(*layers).eval()
for p in vgg.parameters():
    p.requires_grad_(False)
for block in range(1, 6):
    name = f"block{block}_conv1"
    upto = vgg[: names.index(name) + 2]  # conv + relu
    for batch, label in ((1, "batch 1"), (64, "64 filters")):
        if batch == 64 and quick:
            continue

        def step():
            img = (torch.rand(batch, 3, 150, 150) * 20 + 128).requires_grad_(True)
            out = upto(img)
            loss = out[torch.arange(batch), torch.arange(batch) % out.shape[1]].mean(dim=(1, 2)).sum()
            (g,) = torch.autograd.grad(loss, img)
            g = g / (g.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt() + 1e-5)
            return img + g

        timed(f"ascent step VGG16 → {name} 150², {label}", step, max_runs=9 if batch == 1 else 1, budget=8, warmups=3 if batch == 1 else 1,
              items=64 if batch == 64 else None, unit="filter-steps/s" if batch == 64 else None)

full_layers, full_names = vgg16_features()
features = nn.Sequential(*full_layers[:-1]).eval()  # up to block5_conv3 + relu
head = nn.Sequential(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(25088, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
                     nn.Linear(4096, 1000), nn.Softmax(dim=1)).eval()
image = torch.rand(1, 3, 224, 224)


def gradcam():
    with torch.no_grad():
        conv = features(image)
    conv.requires_grad_(True)
    score = head(conv)[0, 386]
    (g,) = torch.autograd.grad(score, conv)
    w = g.mean(dim=(0, 2, 3))
    return torch.relu((conv * w[None, :, None, None]).sum(1))


timed("Grad-CAM VGG16 224²", gradcam, max_runs=3, budget=4)

mnist = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
                      nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10)).eval()
x0 = torch.rand(1, 1, 28, 28)


def mnist_step():
    x = x0.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(mnist(x)[0, 3], x)
    return x0 + 0.1 * g


timed("MNIST class-maximisation step", mnist_step)

net = seed_convnet().train()
opt = torch.optim.RMSprop(net.parameters(), lr=1e-4)
xb = torch.rand(32, 3, 150, 150)
yb = (torch.rand(32, 1) > 0.5).float()
lossf = nn.BCEWithLogitsLoss()


def train_step():
    opt.zero_grad()
    loss = lossf(net(xb), yb)
    loss.backward()
    opt.step()


timed("train step, seed convnet, batch 32", train_step, max_runs=5, budget=8, items=32, unit="images/s")
print(json.dumps({"info": {"backend": f"pytorch {torch.__version__}", "threads": torch.get_num_threads()}, "results": results}))
