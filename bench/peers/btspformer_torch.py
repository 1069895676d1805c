"""PyTorch peer of the BTSPFormer model spec (/work/shared/spec/btspformer-model.md, §2-§6).

Bench tool only: neither the library nor its tests import it. Parameter names follow spec §6, so
`state_dict()` keys match ours (and, in `original` mode, the reference repository's without the
`model.` prefix).

Run it directly to check it against spec §7 and to check that `last_only` changes nothing:

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
        python3 bench/peers/btspformer_torch.py
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

ATTENTION_MODES = ("btsp", "standard", "original")
POS_ENCODINGS = ("predictive", "sinusoidal", "none")

# Spec §3 step 6: constants of the plasticity nonlinearity q(s; θ).
THETA_PLUS = 0.5
THETA_MINUS = 0.1
BETA = 0.1

# Spec §5: the reference code's relative-time table.
TIME_BIAS_STEPS = 500


def predictive_encoding(seq_len, model_dim):
    """Spec §2 time-cell bank, float64 (L, D)."""
    if model_dim < 2:
        raise ValueError(f"predictive encoding needs model_dim >= 2, got {model_dim}")
    s = seq_len / (model_dim - 1)
    tau1 = max(2.0 * s, 0.25)
    tau2 = max(s / 2.0, 0.25)
    p = torch.arange(seq_len, dtype=torch.float64).unsqueeze(1)
    k = torch.arange(model_dim, dtype=torch.float64).unsqueeze(0)
    u = (s * k - 1.0) - p
    # Both branches are finite for the sizes we use; where() only picks one.
    return torch.where(u >= 0, torch.exp(-u / tau1), torch.exp(u / tau2))


def sinusoidal_encoding(seq_len, model_dim):
    """Vaswani encoding, float64 (L, D): column 2i is sin, 2i+1 is cos of p/10000^(2i/D)."""
    p = torch.arange(seq_len, dtype=torch.float64).unsqueeze(1)
    k = torch.arange(model_dim)
    two_i = (k - (k % 2)).to(torch.float64).unsqueeze(0)
    angle = p / torch.pow(torch.tensor(10000.0, dtype=torch.float64), two_i / model_dim)
    return torch.where((k % 2 == 0).unsqueeze(0), torch.sin(angle), torch.cos(angle))


def positional_encoding(kind, seq_len, model_dim):
    """The fixed (L, D) float64 table added after the input embedding."""
    if kind == "predictive":
        return predictive_encoding(seq_len, model_dim)
    if kind == "sinusoidal":
        return sinusoidal_encoding(seq_len, model_dim)
    if kind == "none":
        return torch.zeros(seq_len, model_dim, dtype=torch.float64)
    raise ValueError(f"unknown positional encoding {kind!r}, expected one of {POS_ENCODINGS}")


def _plasticity_q(s, theta):
    """Spec §3 q(s; θ): a sigmoid rescaled so that q(0) = 0 and q(1) = 1."""
    lo = 1.0 / (1.0 + math.exp(theta / BETA))  # σ(−θ/β)
    hi = 1.0 / (1.0 + math.exp(-(1.0 - theta) / BETA))  # σ((1−θ)/β)
    return (torch.sigmoid((s - theta) / BETA) - lo) / (hi - lo)


class BTSPPlasticity(nn.Module):
    """Spec §3 steps 3-6: turns content attention A into the plasticity-adjusted Â."""

    def __init__(self, model_dim, heads):
        super().__init__()
        self.heads = heads
        self.log_tau_et = nn.Parameter(torch.full((heads,), math.log(8.0)))
        self.log_tau_is = nn.Parameter(torch.full((heads,), math.log(2.0)))
        self.eta = nn.Parameter(torch.zeros(heads))
        self.is_proj = nn.Linear(model_dim, heads)
        nn.init.zeros_(self.is_proj.bias)

    def forward(self, attn, zq, qpos, kpos):
        # attn (B, H, Lq, L); zq (B, Lq, D) = LN1 output at the query rows qpos (Lq); kpos (L)
        H = self.heads
        plateau = torch.sigmoid(self.is_proj(zq)).transpose(1, 2).unsqueeze(-1)  # (B, H, Lq, 1)
        lag = (qpos.unsqueeze(1) - kpos.unsqueeze(0)).to(attn.dtype)  # Δ = i − j, (Lq, L)
        tau_et = torch.exp(self.log_tau_et).view(H, 1, 1)
        tau_is = torch.exp(self.log_tau_is).view(H, 1, 1)
        # One exp of a non-positive number: no overflow in the branch where() would discard.
        window = torch.exp(-F.relu(lag) / tau_et - F.relu(-lag) / tau_is)  # (H, Lq, L)
        overlap = plateau * window
        eta = 0.5 * torch.sigmoid(self.eta).view(H, 1, 1)
        adjusted = attn + eta * (
            _plasticity_q(overlap, THETA_PLUS) * (1.0 - attn)
            - _plasticity_q(overlap, THETA_MINUS) * attn
        )
        return adjusted / adjusted.sum(dim=-1, keepdim=True)


class Attention(nn.Module):
    """Multi-head attention in one of the modes btsp / standard / original (spec §3, §5)."""

    def __init__(self, model_dim, heads, mode):
        super().__init__()
        if mode not in ATTENTION_MODES:
            raise ValueError(f"unknown attention mode {mode!r}, expected one of {ATTENTION_MODES}")
        if model_dim % heads != 0:
            raise ValueError(f"model_dim {model_dim} is not divisible by heads {heads}")
        self.mode = mode
        self.heads = heads
        self.head_dim = model_dim // heads
        # Registration order = state_dict order; `original` follows the reference module.
        if mode == "original":
            self.et_gate = nn.Parameter(torch.randn(1, 1, 1))
            self.is_gate = nn.Parameter(torch.randn(1, 1, 1))
            self.time_bias = nn.Parameter(
                torch.linspace(-1, 1, steps=TIME_BIAS_STEPS).view(1, 1, TIME_BIAS_STEPS),
                requires_grad=False,
            )
        self.query = nn.Linear(model_dim, model_dim)
        self.key = nn.Linear(model_dim, model_dim)
        self.value = nn.Linear(model_dim, model_dim)
        self.out_proj = nn.Linear(model_dim, model_dim)
        if mode == "btsp":
            self.btsp = BTSPPlasticity(model_dim, heads)
        # Spec §5's batch-mixing reshape; False gives the per-sample ("defect removed") variant.
        self.regroup = True

    def forward(self, z, last_only=False):
        # z (B, L, D) -> (B, Lq, D), Lq = 1 when last_only (queries only at position L−1)
        B, L, D = z.shape
        H, Dh = self.heads, self.head_dim
        if last_only and self.mode == "original":
            raise ValueError("last_only is not available in 'original' mode (it mixes rows)")
        zq = z[:, -1:] if last_only else z
        Lq = zq.shape[1]
        q = self.query(zq).view(B, Lq, H, Dh).transpose(1, 2)
        k = self.key(z).view(B, L, H, Dh).transpose(1, 2)
        v = self.value(z).view(B, L, H, Dh).transpose(1, 2)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(Dh)  # (B, H, Lq, L)
        qpos = torch.arange(L - Lq, L, device=z.device)
        kpos = torch.arange(L, device=z.device)
        if self.mode == "original":
            idx = torch.clamp(
                kpos.unsqueeze(0) - qpos.unsqueeze(1) + TIME_BIAS_STEPS // 2, 0, TIME_BIAS_STEPS - 1
            )
            scores = scores + torch.sigmoid(self.et_gate) * self.time_bias[0, 0][idx] + self.is_gate
        attn = F.softmax(scores, dim=-1)
        if self.mode == "btsp":
            attn = self.btsp(attn, zq, qpos, kpos)
        ctx = attn @ v  # (B, H, Lq, Dh)
        if self.mode == "original" and self.regroup:
            # Reference defect: memory order (H, B, L, Dh) read back as (B, L, H·Dh).
            ctx = ctx.transpose(0, 1).contiguous().view(B, Lq, D)
        else:
            ctx = ctx.transpose(1, 2).reshape(B, Lq, D)
        return self.out_proj(ctx)


class Block(nn.Module):
    """Pre-LN transformer block (spec §4)."""

    def __init__(self, model_dim, heads, mode, dropout):
        super().__init__()
        self.attn = Attention(model_dim, heads, mode)
        self.norm1 = nn.LayerNorm(model_dim)
        self.ffn = nn.Sequential(
            nn.Linear(model_dim, 4 * model_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(4 * model_dim, model_dim),
            nn.Dropout(dropout),
        )
        self.norm2 = nn.LayerNorm(model_dim)

    def forward(self, h, last_only=False):
        # h (B, L, D) -> (B, L, D), or (B, 1, D) when last_only
        a = self.attn(self.norm1(h), last_only)
        if last_only:
            h = h[:, -1:]
        h = h + a
        return h + self.ffn(self.norm2(h))


class BTSPFormer(nn.Module):
    """The whole model: embedding + positional encoding, N blocks, head on the last position.

    `last_only=True` computes, in the last block, queries, attention output, out_proj, LN2 and FFN
    only at position L−1: the head reads nothing else, so outputs and gradients are unchanged.
    """

    def __init__(
        self,
        seq_len,
        model_dim=64,
        heads=4,
        layers=2,
        horizon=1,
        attention="btsp",
        pos_encoding="predictive",
        dropout=0.1,
        last_only=False,
    ):
        super().__init__()
        if last_only and attention == "original":
            raise ValueError("last_only is not available in 'original' mode")
        self.seq_len = seq_len
        self.attention = attention
        self.pos_encoding = pos_encoding
        self.last_only = last_only
        # Plain float64 attribute, not a buffer: state_dict keys stay spec §6's, and .float()
        # cannot round it before a .double() run.
        self._pe = positional_encoding(pos_encoding, seq_len, model_dim)
        self.input_embedding = nn.Linear(1, model_dim)
        self.blocks = nn.ModuleList(
            [Block(model_dim, heads, attention, dropout) for _ in range(layers)]
        )
        self.output_layer = nn.Sequential(
            nn.Linear(model_dim, model_dim // 2),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(model_dim // 2, horizon),
        )

    def set_regroup(self, on):
        """Turn spec §5's batch-mixing regrouping on (reference behaviour) or off."""
        for block in self.blocks:
            block.attn.regroup = on

    def forward(self, x, last_only=None):
        # x (B, L) or (B, L, 1) -> (B, horizon)
        if x.dim() == 2:
            x = x.unsqueeze(-1)
        if x.shape[1] != self.seq_len:
            raise ValueError(f"expected windows of length {self.seq_len}, got {x.shape[1]}")
        last_only = self.last_only if last_only is None else last_only
        h = self.input_embedding(x)
        if self.pos_encoding != "none":
            h = h + self._pe.to(dtype=h.dtype, device=h.device)
        n = len(self.blocks)
        for i, block in enumerate(self.blocks):
            h = block(h, last_only and i == n - 1)
        return self.output_layer(h[:, -1, :])


def rule_value(j, k):
    """Spec §7 weight rule for flat element k of the j-th tensor."""
    return 0.25 * math.sin(0.5 + 0.7 * j + 0.31 * k)


def apply_weight_rule(model, btsp_perturbation=True):
    """Fill every parameter with the §7 rule in state_dict order (j counts every tensor).

    `time_bias` keeps its linspace (made in float64 here). With `btsp_perturbation`, the btsp
    scalars get their init values plus a small per-head perturbation, so that every path of the
    plasticity is exercised while staying near a trained model's range; `is_proj` uses the rule.
    """
    with torch.no_grad():
        for j, (name, p) in enumerate(model.named_parameters()):
            n = p.numel()
            h = torch.arange(n, dtype=torch.float64)
            if name.endswith("time_bias"):
                vals = torch.linspace(-1, 1, steps=n, dtype=torch.float64)
            elif btsp_perturbation and name.endswith("btsp.log_tau_et"):
                vals = math.log(8.0) + 0.1 * torch.sin(h + 1)
            elif btsp_perturbation and name.endswith("btsp.log_tau_is"):
                vals = math.log(2.0) - 0.1 * torch.sin(h + 2)
            elif btsp_perturbation and name.endswith("btsp.eta"):
                vals = 0.3 * torch.sin(h + 3)
            else:
                vals = torch.tensor([rule_value(j, k) for k in range(n)], dtype=torch.float64)
            p.copy_(vals.view(p.shape).to(p.dtype))


def _named_parameters_all(model):
    """named_parameters() includes frozen ones too (requires_grad=False); keep that explicit."""
    return list(model.named_parameters())


def _check_spec7():
    x = torch.tensor([[0.1, -0.2, 0.3, 0.5], [1.0, 0.0, -1.0, 0.25]], dtype=torch.float64)
    m = BTSPFormer(4, 8, 2, 1, 1, "original", "none").double().eval()
    apply_weight_rule(m, btsp_perturbation=False)
    with torch.no_grad():
        batch = m(x).flatten().tolist()
        alone = [m(x[i : i + 1]).item() for i in range(2)]
        m.set_regroup(False)
        per_sample = m(x).flatten().tolist()
    expected = {
        "batch of 2": ([-0.2354235086, -0.2303986987], batch),
        "each sample alone": ([-0.2376904222, -0.2303986987], alone),
        "per-sample heads": ([-0.2364499510, -0.2291918673], per_sample),
    }
    ok = True
    for label, (want, got) in expected.items():
        err = max(abs(a - b) for a, b in zip(want, got))
        ok = ok and err <= 1e-9
        print(f"spec §7 {label}: got {[f'{v:.10f}' for v in got]} max |err| {err:.2e}")
    return ok


def _check_last_only():
    ok = True
    x = torch.sin(0.37 * torch.arange(3 * 12, dtype=torch.float64)).view(3, 12)
    w = torch.tensor([0.5, -1.0, 0.75], dtype=torch.float64).view(3, 1)
    for mode in ("btsp", "standard"):
        m = BTSPFormer(12, 8, 2, 2, 1, mode, "predictive").double().eval()
        apply_weight_rule(m)
        outs, grads = [], []
        for last_only in (False, True):
            m.zero_grad()
            y = m(x, last_only=last_only)
            (y * w).sum().backward()
            outs.append(y.detach().clone())
            grads.append({n: p.grad.clone() for n, p in m.named_parameters() if p.requires_grad})
        out_err = (outs[0] - outs[1]).abs().max().item()
        grad_err = max((grads[0][n] - grads[1][n]).abs().max().item() for n in grads[0])
        ok = ok and out_err <= 1e-12 and grad_err <= 1e-12
        print(f"last_only {mode}: max |Δ output| {out_err:.2e}, max |Δ grad| {grad_err:.2e}")
    return ok


def _loop_attention(attn, z):
    """Spec §2/§3 written as scalar loops over one sample, to cross-check the tensor code."""
    L, D = len(z), len(z[0])
    H, Dh = attn.heads, attn.head_dim

    def lin(layer, row):
        w, b = layer.weight.tolist(), layer.bias.tolist()
        return [sum(w[o][c] * row[c] for c in range(len(row))) + b[o] for o in range(len(w))]

    def sig(v):
        return 1.0 / (1.0 + math.exp(-v))

    def q_of(s, th):
        return (sig((s - th) / BETA) - sig(-th / BETA)) / (sig((1 - th) / BETA) - sig(-th / BETA))

    Q = [lin(attn.query, r) for r in z]
    K = [lin(attn.key, r) for r in z]
    V = [lin(attn.value, r) for r in z]
    ctx = [[0.0] * D for _ in range(L)]
    for h in range(H):
        cols = range(h * Dh, (h + 1) * Dh)
        for i in range(L):
            sc = [sum(Q[i][c] * K[j][c] for c in cols) / math.sqrt(Dh) for j in range(L)]
            mx = max(sc)
            e = [math.exp(v - mx) for v in sc]
            a = [v / sum(e) for v in e]
            if attn.mode == "btsp":
                bt = attn.btsp
                plateau = sig(lin(bt.is_proj, z[i])[h])
                t_et = math.exp(bt.log_tau_et[h].item())
                t_is = math.exp(bt.log_tau_is[h].item())
                eta = 0.5 * sig(bt.eta[h].item())
                for j in range(L):
                    d = i - j
                    s = plateau * (math.exp(-d / t_et) if d >= 0 else math.exp(d / t_is))
                    a[j] += eta * (q_of(s, THETA_PLUS) * (1 - a[j]) - q_of(s, THETA_MINUS) * a[j])
                tot = sum(a)
                a = [v / tot for v in a]
            for c in cols:
                ctx[i][c] = sum(a[j] * V[j][c] for j in range(L))
    return [lin(attn.out_proj, r) for r in ctx]


def _loop_predictive(L, D):
    s = L / (D - 1)
    t1, t2 = max(2 * s, 0.25), max(s / 2, 0.25)
    rows = []
    for p in range(L):
        row = []
        for k in range(D):
            u = s * k - 1 - p
            row.append(math.exp(-u / t1) if u >= 0 else math.exp(u / t2))
        rows.append(row)
    return rows


def _check_loops():
    ok = True
    pe_err = (predictive_encoding(7, 5) - torch.tensor(_loop_predictive(7, 5), dtype=torch.float64))
    ok = ok and pe_err.abs().max().item() <= 1e-15
    print(f"predictive encoding vs loops: max |err| {pe_err.abs().max().item():.2e}")
    for mode in ("btsp", "standard"):
        m = BTSPFormer(6, 8, 2, 1, 1, mode, "predictive").double().eval()
        apply_weight_rule(m)
        z = torch.cos(0.9 * torch.arange(2 * 6 * 8, dtype=torch.float64)).view(2, 6, 8) * 1.5
        with torch.no_grad():
            got = m.blocks[0].attn(z)
        want = torch.tensor(
            [_loop_attention(m.blocks[0].attn, zb.tolist()) for zb in z], dtype=torch.float64
        )
        err = (got - want).abs().max().item()
        ok = ok and err <= 1e-13
        print(f"{mode} attention vs loops: max |err| {err:.2e}")
    return ok


if __name__ == "__main__":
    good = _check_spec7() & _check_last_only() & _check_loops()
    print("OK" if good else "MISMATCH")
    raise SystemExit(0 if good else 1)
