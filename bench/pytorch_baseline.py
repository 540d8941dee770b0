"""The peer a user would pick instead: PyTorch, on the same Llama layout and sizes as
`searchlearn bench engine` (src/nn/config.ts modelSizes: demo and small; training at batch 32,
context 128; sampling with a KV cache, prompt 16, 112 new tokens, at batch 1, 64 and 256), plus
numpy/OpenBLAS's 1024^3 GEMM (the machine's practical limit). Prints one JSON line whose
"figures" carry the names of `bench engine --json`'s, each the median of REPEATS timed runs.
Run with Debian's python3-torch and python3-numpy (`/usr/bin/python3`):
    pytorch_baseline.py [THREADS (torch.set_num_threads, default 1)] [REPEATS (default 3)]
OPENBLAS_NUM_THREADS sets the threads of its GEMMs (and numpy's); without it OpenBLAS takes every core.
"""
import json, math, os, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
torch.manual_seed(0)
V, T, B, NEW = 53, 128, 32, 112
# src/nn/config.ts modelSizes: (dModel, nLayers, nHeads, dFF).
SIZES = {"demo": (128, 2, 4, 344), "small": (256, 4, 8, 688)}
C, L, H, FF = SIZES["demo"]
D = C // H


def use_size(name):
    """The module-level shape the classes below read (one size at a time)."""
    global C, L, H, FF, D, COS, SIN
    C, L, H, FF = SIZES[name]
    D = C // H
    COS, SIN = rope_tables(256)


def rope_tables(n):
    inv = 10000.0 ** (-torch.arange(0, D, 2).float() / D)
    ang = torch.arange(n).float()[:, None] * inv[None, :]
    return ang.cos(), ang.sin()


COS, SIN = rope_tables(256)


def rope(x, pos0=0):  # x [B, H, T, D], adjacent pairs (llama.cpp NORM)
    t = x.shape[2]
    c, s = COS[pos0:pos0 + t], SIN[pos0:pos0 + t]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x0 * c - x1 * s
    out[..., 1::2] = x0 * s + x1 * c
    return out


class RMSNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(C))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.w


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.n1, self.n2 = RMSNorm(), RMSNorm()
        self.qkv = nn.Linear(C, 3 * C, bias=False)
        self.o = nn.Linear(C, C, bias=False)
        self.gu = nn.Linear(C, 2 * FF, bias=False)
        self.down = nn.Linear(FF, C, bias=False)

    def forward(self, x, cache=None, pos0=0):
        b, t, _ = x.shape
        q, k, v = self.qkv(self.n1(x)).view(b, t, 3, H, D).permute(2, 0, 3, 1, 4)
        q, k = rope(q, pos0), rope(k, pos0)
        if cache is not None:
            if cache[0] is not None:
                k = torch.cat([cache[0], k], 2)
                v = torch.cat([cache[1], v], 2)
            cache[0], cache[1] = k, v
        # torch 1.13 (Debian's) has no scaled_dot_product_attention: the explicit form.
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        if t > 1:
            s = s + torch.full((t, k.shape[2]), float('-inf')).triu(1 + k.shape[2] - t)
        a = F.softmax(s, -1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(b, t, C))
        g, u = self.gu(self.n2(x)).chunk(2, -1)
        return x + self.down(F.silu(g) * u)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, C)
        self.blocks = nn.ModuleList([Block() for _ in range(L)])
        self.norm = RMSNorm()
        self.out = nn.Linear(C, V, bias=False)

    def forward(self, ids, caches=None, pos0=0):
        x = self.emb(ids)
        for i, blk in enumerate(self.blocks):
            x = blk(x, None if caches is None else caches[i], pos0)
        return self.out(self.norm(x))


def blas_libraries():
    """The BLAS libraries this process has loaded (after a GEMM): Debian's numpy and torch use
    whatever libblas.so.3 points to, which is netlib's reference BLAS (~0.5 GFLOP/s) unless
    libopenblas0-pthread is installed."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
        return sorted({os.path.realpath(p) for p in paths})
    except OSError:
        return []


def blas_threads():
    """Threads OpenBLAS runs a GEMM on. torch.set_num_threads does not set them: with one torch
    thread, Debian's OpenBLAS (pthreads) still ran GEMMs on both cores of the 2-vCPU VM (cpu/wall
    1.97 on 1024^3, session 32); OPENBLAS_NUM_THREADS does."""
    import ctypes
    for path in blas_libraries():
        if "openblas" in os.path.basename(path):
            try:
                return ctypes.CDLL(path).openblas_get_num_threads()
            except (OSError, AttributeError):
                return None
    return None


def gemm_peak():
    a = np.random.rand(1024, 1024).astype(np.float32)
    b = np.random.rand(1024, 1024).astype(np.float32)
    a @ b
    best = min(timeit(lambda: a @ b) for _ in range(8))
    return 2 * 1024 ** 3 / best / 1e9


def timeit(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


# Warm-up before the timed runs: src/nn/bench-engine.ts's benchWarmup (the same counts on both
# sides; why there).
WARMUP_STEPS, WARMUP_CALLS = 10, 4


def train_rates(m, steps):
    """Tokens/s of REPEATS timed runs of `steps` steps each, after WARMUP_STEPS warm-up steps."""
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    ids = torch.randint(3, V, (B, T))
    tg = torch.randint(3, V, (B, T))

    def step():
        loss = F.cross_entropy(m(ids).view(-1, V), tg.view(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(WARMUP_STEPS):
        step()
    rates = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(B * T * steps / (time.perf_counter() - t0))
    return rates


@torch.no_grad()
def sample_once(m, batch):
    ids = torch.randint(3, V, (batch, 16))
    caches = [[None, None] for _ in range(L)]
    logits = m(ids, caches, 0)[:, -1]
    pos = 16
    for _ in range(NEW):
        nxt = torch.multinomial(F.softmax(logits, -1), 1)
        logits = m(nxt, caches, pos)[:, -1]
        pos += 1
    return batch * NEW


def sample_rates(m, batch, calls):
    """Tokens/s of REPEATS timed runs of `calls` calls each, after WARMUP_CALLS warm-up calls."""
    for _ in range(WARMUP_CALLS):
        sample_once(m, batch)
    rates = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        n = sum(sample_once(m, batch) for _ in range(calls))
        rates.append(n / (time.perf_counter() - t0))
    return rates


# Same names and work per repeat as src/nn/bench-engine.ts's plan.
PLAN = [
    ("demo.train", "demo", lambda m: train_rates(m, 3)),
    ("demo.sample_b1", "demo", lambda m: sample_rates(m, 1, 6)),
    ("demo.sample_b64", "demo", lambda m: sample_rates(m, 64, 1)),
    ("demo.sample_b256", "demo", lambda m: sample_rates(m, 256, 1)),
    ("small.train", "small", lambda m: train_rates(m, 1)),
    ("small.sample_b64", "small", lambda m: sample_rates(m, 64, 1)),
]

np.ones((64, 64), np.float32) @ np.ones((64, 64), np.float32)  # loads the BLAS
if not any("openblas" in p for p in blas_libraries()):
    sys.exit(f"pytorch_baseline: BLAS is {blas_libraries() or 'unknown'}, not OpenBLAS: PyTorch and numpy would run at netlib's reference speed (~0.5 GFLOP/s); install libopenblas0-pthread")
peak = gemm_peak()
figures, params, flops = {}, {}, {}
for name, size, measure in PLAN:
    use_size(size)
    torch.manual_seed(0)
    m = Model()
    params[size] = sum(p.numel() for p in m.parameters())
    flops[size] = 6 * params[size] + 12 * L * T * C
    rates = measure(m)
    figures[name] = {"median": round(median(rates)), "repeats": [round(r) for r in rates]}
    print(f"{name}: {figures[name]['median']} tokens/s", file=sys.stderr)

demo_tps = figures["demo.train"]["median"]
print(json.dumps({
    "torch": torch.__version__, "threads": torch.get_num_threads(), "blas_threads": blas_threads(), "repeats": REPEATS, "numpy_gemm_gflops": round(peak, 1),
    "blas": blas_libraries(),
    "parameters": params["demo"], "train_tokens_per_s": demo_tps, "train_model_gflops": round(demo_tps * flops["demo"] / 1e9, 1),
    "train_mfu_vs_numpy": round(demo_tps * flops["demo"] / 1e9 / peak, 3),
    "sample_batch1_tokens_per_s": figures["demo.sample_b1"]["median"], "sample_batch64_tokens_per_s": figures["demo.sample_b64"]["median"],
    "sizes": {k: {"parameters": params[k], "flops_per_token": flops[k]} for k in params},
    "small_train_mfu_vs_numpy": round(figures["small.train"]["median"] * flops["small"] / 1e9 / peak, 3),
    "figures": figures,
}))
