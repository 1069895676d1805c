"""Training-throughput peer: the PyTorch BTSPFormer on the damped sine, on the CPU.

Bench tool only. Default config: L=50, D=64, H=4, 2 layers, batch 128, 8000 training windows
(chronological 80/20 split of 10000 windows, z-score fitted on the training part), AdamW
lr 1e-3 wd 0.01, gradient clipping 1.0, MSE. Prints one JSON line.

    python3 bench/peers/train_torch.py --threads 2 --mode btsp --last_only --steps 20

Debian's default libblas.so.3 is the slow reference BLAS: unless --no_reexec is given, the
script re-executes itself with LD_LIBRARY_PATH pointing at libopenblas0-openmp's libblas.so.3
when that package is installed, and OMP_NUM_THREADS set to --threads. The JSON says which
libblas was actually mapped.
"""

import argparse
import json
import math
import os
import re
import sys
import time

OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-openmp"


def parse_args():
    ap = argparse.ArgumentParser(description="BTSPFormer PyTorch training throughput")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--mode", choices=("btsp", "standard", "original"), default="btsp")
    ap.add_argument(
        "--pos_encoding", choices=("predictive", "sinusoidal", "none"), default="predictive"
    )
    ap.add_argument("--last_only", action="store_true")
    ap.add_argument("--epochs", type=int, default=1, help="timed epochs (ignored with --steps)")
    ap.add_argument("--steps", type=int, default=0, help="timed steps instead of full epochs")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--seq_len", type=int, default=50)
    ap.add_argument("--model_dim", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--train_windows", type=int, default=8000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no_reexec", action="store_true")
    return ap.parse_args()


def maybe_reexec(args):
    """Restart with OpenBLAS and OMP_NUM_THREADS in the environment: both are read at load time."""
    if args.no_reexec or os.environ.get("_BTSP_TRAIN_REEXEC") == "1":
        return
    env = dict(os.environ, _BTSP_TRAIN_REEXEC="1", OMP_NUM_THREADS=str(args.threads))
    if os.path.exists(os.path.join(OPENBLAS_DIR, "libblas.so.3")):
        paths = [p for p in env.get("LD_LIBRARY_PATH", "").split(":") if p]
        if OPENBLAS_DIR not in paths:
            env["LD_LIBRARY_PATH"] = ":".join([OPENBLAS_DIR] + paths)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def mapped_blas():
    """The BLAS shared objects this process actually loaded (from /proc/self/maps)."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                name = os.path.basename(path)
                if "blas" in name or "lapack" in name or "mkl" in name:
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    return sorted(libs)


def damped_sine_windows(torch, seq_len, train_windows):
    """Spec §1 defaults, chronological split, z-score on the training part."""
    n_windows = math.ceil(train_windows / 0.8)
    n_points = n_windows + seq_len
    t = torch.linspace(0, 20, n_points, dtype=torch.float64)
    x = torch.exp(-0.1 * t) * torch.cos(2.0 * t)
    # Training windows use points 0 … train_windows+seq_len−1 (inputs and targets).
    fit = x[: train_windows + seq_len]
    x = (x - fit.mean()) / fit.std(unbiased=False)
    idx = torch.arange(n_windows).unsqueeze(1) + torch.arange(seq_len).unsqueeze(0)
    inputs = x[idx].float()
    targets = x[seq_len : seq_len + n_windows].float().unsqueeze(1)
    train = (inputs[:train_windows], targets[:train_windows])
    return train, (inputs[train_windows:], targets[train_windows:])


def main():
    args = parse_args()
    maybe_reexec(args)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import btspformer_torch as bt

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    (xtr, ytr), (xva, yva) = damped_sine_windows(torch, args.seq_len, args.train_windows)
    model = bt.BTSPFormer(
        args.seq_len,
        args.model_dim,
        args.heads,
        args.layers,
        1,
        args.mode,
        args.pos_encoding,
        dropout=0.1,
        last_only=args.last_only,
    )
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    loss_fn = torch.nn.MSELoss()
    n_train = xtr.shape[0]
    steps_per_epoch = math.ceil(n_train / args.batch)

    def batches():
        while True:
            perm = torch.randperm(n_train)
            for s in range(0, n_train, args.batch):
                sel = perm[s : s + args.batch]
                yield xtr[sel], ytr[sel]

    def step(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    model.train()
    it = batches()
    for _ in range(args.warmup):
        step(*next(it))
    timed_steps = args.steps if args.steps > 0 else args.epochs * steps_per_epoch
    samples = 0
    t0 = time.perf_counter()
    loss = float("nan")
    for _ in range(timed_steps):
        xb, yb = next(it)
        loss = step(xb, yb)
        samples += xb.shape[0]
    train_s = time.perf_counter() - t0

    model.eval()
    with torch.no_grad():
        for s in range(0, min(xva.shape[0], 2 * args.batch), args.batch):
            model(xva[s : s + args.batch])
        t0 = time.perf_counter()
        inf_samples = 0
        for s in range(0, xva.shape[0], args.batch):
            model(xva[s : s + args.batch])
            inf_samples += min(args.batch, xva.shape[0] - s)
        inf_s = time.perf_counter() - t0

    samples_per_s = samples / train_s
    print(
        json.dumps(
            {
                "samples_per_s": round(samples_per_s, 1),
                # Extrapolated from the timed steps when --steps is used.
                "epoch_s": round(n_train / samples_per_s, 3),
                "threads": torch.get_num_threads(),
                "blas": mapped_blas(),
                "blas_info": re.findall(
                    r"\b(?:BLAS_INFO|LAPACK_INFO|USE_MKLDNN)=[^,\s]*", torch.__config__.show()
                ),
                "mode": args.mode,
                "last_only": args.last_only,
                "inference_samples_per_s": round(inf_samples / inf_s, 1),
                "timed_steps": timed_steps,
                "batch": args.batch,
                "final_loss": loss,
                "torch": torch.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
