"""Write the float64 golden fixtures tests/fixtures/<name>.json from the PyTorch peer model.

Regenerate (from the repository root; needs python3-torch, nothing else):

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
        python3 bench/peers/make_fixtures.py [--out tests/fixtures]

The output is deterministic (no random numbers): the same torch build writes the same bytes.
The files then go through `deno fmt` (found on PATH, with the repository's deno.json so the
layout does not depend on --out): `deno fmt --check` stays clean. Sizes are checked after that.
Each file holds, in eval mode (no dropout; `config.dropout` is 0 so that a model built from the
config behaves the same in training mode):

    config      { seqLen, modelDim, heads, layers, horizon, attention, posEncoding, dropout }
    params      { "<spec §6 name>": { shape, data (flat, row-major) } }, trainable and frozen
    input       B × seqLen windows
    output      B × horizon predictions
    lossWeights B·horizon flat weights w
    grads       { "<name>": flat d(Σ output·w)/d param }, trainable parameters only
    pe          seqLen × modelDim positional-encoding table (zeros for "none"), for debugging

Weights follow spec §7's rule 0.25·sin(0.5 + 0.7·j + 0.31·k) over the state_dict order, except
the btsp scalars: log_tau_et = ln 8 + 0.1·sin(h+1), log_tau_is = ln 2 − 0.1·sin(h+2),
eta = 0.3·sin(h+3) (see btspformer_torch.apply_weight_rule).
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import btspformer_torch as bt  # noqa: E402

# name: (attention, posEncoding, horizon, batch); all share L=12, D=8, H=2, 2 layers.
FIXTURES = {
    "btsp_predictive": ("btsp", "predictive", 1, 3),
    "btsp_predictive_h3": ("btsp", "predictive", 3, 3),
    "standard_sinusoidal": ("standard", "sinusoidal", 1, 3),
    "btsp_none": ("btsp", "none", 1, 3),
    "original_none": ("original", "none", 1, 2),
}
SEQ_LEN, MODEL_DIM, HEADS, LAYERS = 12, 8, 2, 2
MAX_BYTES = 200_000
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fixture_input(batch, seq_len):
    """Windows of a damped sine with a per-sample phase and offset: smooth, distinct samples."""
    t = torch.arange(seq_len, dtype=torch.float64)
    rows = [
        torch.exp(-0.05 * t) * torch.cos(0.6 * t + 0.9 * b) + 0.1 * (b - 1) for b in range(batch)
    ]
    return torch.stack(rows)


def loss_weights(n):
    """Distinct, sign-changing weights so a transposed or shifted gradient cannot pass."""
    return torch.tensor([math.cos(1.3 * i + 0.2) + 0.1 * i for i in range(n)], dtype=torch.float64)


def build(name):
    attention, pos, horizon, batch = FIXTURES[name]
    model = bt.BTSPFormer(
        SEQ_LEN, MODEL_DIM, HEADS, LAYERS, horizon, attention, pos, dropout=0.0
    ).double()
    model.eval()
    bt.apply_weight_rule(model)
    x = fixture_input(batch, SEQ_LEN)
    w = loss_weights(batch * horizon)
    model.zero_grad()
    y = model(x)
    (y.flatten() * w).sum().backward()
    params = {
        n: {"shape": list(p.shape), "data": p.detach().flatten().tolist()}
        for n, p in model.named_parameters()
    }
    grads = {
        n: p.grad.flatten().tolist() for n, p in model.named_parameters() if p.requires_grad
    }
    for n, g in grads.items():
        if not all(math.isfinite(v) for v in g):
            raise RuntimeError(f"{name}: non-finite gradient in {n}")
    return {
        "config": {
            "seqLen": SEQ_LEN,
            "modelDim": MODEL_DIM,
            "heads": HEADS,
            "layers": LAYERS,
            "horizon": horizon,
            "attention": attention,
            "posEncoding": pos,
            "dropout": 0.0,
        },
        "params": params,
        "input": x.tolist(),
        "output": y.detach().tolist(),
        "lossWeights": w.tolist(),
        "grads": grads,
        "pe": model._pe.tolist(),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/fixtures")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    paths = []
    for name in FIXTURES:
        path = os.path.abspath(os.path.join(args.out, f"{name}.json"))
        with open(path, "w") as f:
            f.write(json.dumps(build(name), separators=(",", ":")) + "\n")
        paths.append(path)
    deno = shutil.which("deno")
    if deno is None:
        print("deno not found: run `deno fmt tests/fixtures/*.json` before committing")
    else:
        config = os.path.join(REPO_ROOT, "deno.json")
        cmd = [deno, "fmt", "--quiet", "--config", config, *paths]
        subprocess.run(cmd, cwd=REPO_ROOT, check=True)
    for path in paths:
        size = os.path.getsize(path)
        if size > MAX_BYTES:
            raise RuntimeError(f"{path}: {size} bytes exceeds {MAX_BYTES}")
        print(f"wrote {path} ({size} bytes)")


if __name__ == "__main__":
    main()
