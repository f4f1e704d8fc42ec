#!/usr/bin/python3
"""PyTorch 1.13 CPU reference times for the kernel shapes of KernelBenchmarks.

Times each operation with time.perf_counter: a few warmup calls, then the median of N timed calls, in one process
with torch.set_num_threads(2), then again with 1 thread (for comparing the single-threaded C# kernels). Prints JSON on
stdout: {"torch": ..., "threads": ..., "results": {shape: {op: ms}}, "results_1_thread": {...}}.
Operations mirror the C# kernels: x*a+b (the streaming reference), batch_norm eval (per-channel normalize / BN
inference), batch_norm train forward, forward+backward through autograd, layer_norm, group_norm, instance_norm.
Every forward runs under torch.no_grad() except the one that is differentiated.

With --gemm it times only the references of GemmBenchmarks and MlpGemmBenchmarks, on --threads threads: torch.mm of
two 1024 × 1024 matrices, and a Linear layer's three products at the MLP's shapes (batch × inputs × outputs):
forward torch.mm(x, w.t()), weight gradient dw.addmm_(dy.t(), x) (dW += dYᵀ·X, as ours), input gradient
torch.mm(dy, w). torch.set_num_threads does not limit OpenBLAS's own threads, so run it once per thread count, each
in its own process with OPENBLAS_NUM_THREADS and OMP_NUM_THREADS set to that count (as run.sh does). --openblas-coretype
prints the OPENBLAS_CORETYPE to name when OpenBLAS does not recognise the CPU, or nothing.

With --normalize it times only the per-channel normalize reference, batch_norm eval (F.batch_norm(x, mean, var,
w, b, training=False)) on both shapes, NCHW and channels_last, under torch.inference_mode(), on --threads threads
alone. Run it once per thread count with OMP_NUM_THREADS and OPENBLAS_NUM_THREADS set to that count in the
environment, as run.sh does, so that every thread pool of the process has that size from start-up (with neither
set, torch starts on 1 thread here); it refuses to run when the environment disagrees with --threads.

    /usr/bin/python3 benchmarks/torch_reference.py [--runs N] [--warmup W] > torch.json
    OMP_NUM_THREADS=T OPENBLAS_NUM_THREADS=T /usr/bin/python3 benchmarks/torch_reference.py --normalize --threads T > torch_normalize_T.json
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /usr/bin/python3 benchmarks/torch_reference.py --gemm --threads 1 > gemm1.json
"""
import argparse
import ctypes
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

SHAPES = [(32, 3, 224, 224), (32, 64, 56, 56)]
EPS = 1e-5


def groups_for(channels):
    """min(32, C) lowered until it divides C, as KernelBatch.GroupsFor."""
    groups = min(32, channels)
    while channels % groups:
        groups -= 1
    return groups


def median_ms(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def bench_shape(shape, runs, warmup):
    n, c, h, w = shape
    gen = torch.Generator().manual_seed(20240601)
    x = torch.rand(shape, generator=gen) * 5 - 2
    dy = torch.rand(shape, generator=gen) * 2 - 1
    gamma = torch.rand(c, generator=gen) + 0.5
    beta = torch.rand(c, generator=gen) - 0.5
    gamma_elements = torch.rand((c, h, w), generator=gen) + 0.5
    beta_elements = torch.rand((c, h, w), generator=gen) - 0.5
    running_mean = torch.rand(c, generator=gen)
    running_var = torch.rand(c, generator=gen) + 0.5
    a, b = 0.0173, -2.04
    groups = groups_for(c)
    out = torch.empty_like(x)

    x_grad = x.clone().requires_grad_(True)
    gamma_grad = gamma.clone().requires_grad_(True)
    beta_grad = beta.clone().requires_grad_(True)
    train_mean, train_var = running_mean.clone(), running_var.clone()

    def forward_backward():
        x_grad.grad = gamma_grad.grad = beta_grad.grad = None
        y = F.batch_norm(x_grad, train_mean, train_var, gamma_grad, beta_grad, training=True, momentum=0.1, eps=EPS)
        y.backward(dy)

    ops = {}
    with torch.no_grad():
        ops["mul_add"] = lambda: x * a + b
        ops["mul_add_fused_out"] = lambda: torch.add(torch.tensor(b), x, alpha=a, out=out)
        ops["batch_norm_eval"] = lambda: F.batch_norm(x, running_mean, running_var, gamma, beta, training=False, eps=EPS)
        ops["batch_norm_train_forward"] = lambda: F.batch_norm(x, train_mean, train_var, gamma, beta, training=True, momentum=0.1, eps=EPS)
        ops["layer_norm"] = lambda: F.layer_norm(x, (c, h, w), gamma_elements, beta_elements, eps=EPS)
        ops["group_norm"] = lambda: F.group_norm(x, groups, gamma, beta, eps=EPS)
        ops["instance_norm"] = lambda: F.instance_norm(x, weight=gamma, bias=beta, eps=EPS)
        results = {}
        for name, fn in ops.items():
            results[name] = median_ms(fn, runs, warmup)
    results["batch_norm_train_forward_backward"] = median_ms(forward_backward, runs, warmup)
    results["groups"] = groups
    return results


def bench_normalize(shape, runs, warmup):
    """The per-channel normalize reference: batch_norm eval, NCHW and channels_last, in inference mode."""
    n, c, h, w = shape
    gen = torch.Generator().manual_seed(20240601)
    x = torch.rand(shape, generator=gen) * 5 - 2
    gamma = torch.rand(c, generator=gen) + 0.5
    beta = torch.rand(c, generator=gen) - 0.5
    running_mean = torch.rand(c, generator=gen)
    running_var = torch.rand(c, generator=gen) + 0.5
    x_channels_last = x.contiguous(memory_format=torch.channels_last)
    results = {}
    with torch.inference_mode():
        results["batch_norm_eval"] = median_ms(
            lambda: F.batch_norm(x, running_mean, running_var, gamma, beta, training=False, eps=EPS), runs, warmup)
        results["batch_norm_eval_channels_last"] = median_ms(
            lambda: F.batch_norm(x_channels_last, running_mean, running_var, gamma, beta, training=False, eps=EPS), runs, warmup)
    return results


def main_normalize(args):
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        if os.environ.get(variable) != str(args.threads):
            sys.exit(f"torch_reference.py --normalize --threads {args.threads} needs {variable}={args.threads} in the environment")
    torch.set_num_threads(args.threads)
    report = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "environment": {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
        "runs": args.runs,
        "warmup": args.warmup,
        "unit": "ms (median)",
        "results": {},
    }
    for shape in SHAPES:
        key = "x".join(map(str, shape))
        print(f"torch_reference: normalize {key}, {args.threads} thread(s)", file=sys.stderr)
        report["results"][key] = bench_normalize(shape, args.runs, args.warmup)
    json.dump(report, sys.stdout, indent=2)
    print()
GEMM_MLP_SHAPES = [(64, 784, 256), (64, 256, 256), (64, 256, 10)]


def bench_gemm(runs, warmup):
    """{"gemm_1024": ms, "64x784x256": {"forward": ms, "weight_gradient": ms, "input_gradient": ms}, ...}."""
    gen = torch.Generator().manual_seed(20240603)
    a = torch.rand((1024, 1024), generator=gen) * 2 - 1
    b = torch.rand((1024, 1024), generator=gen) * 2 - 1
    out = torch.empty((1024, 1024))
    results = {"gemm_1024": median_ms(lambda: torch.mm(a, b, out=out), runs, warmup)}
    # The MLP's products take tens of microseconds: many more runs for a stable median.
    mlp_runs = max(runs, 2001)
    for batch, inputs, outputs in GEMM_MLP_SHAPES:
        x = torch.rand((batch, inputs), generator=gen)
        w = (torch.rand((outputs, inputs), generator=gen) - 0.5) / 10
        dy = (torch.rand((batch, outputs), generator=gen) - 0.5) / 50
        y, dw, dx = torch.empty((batch, outputs)), torch.zeros((outputs, inputs)), torch.empty((batch, inputs))
        results[f"{batch}x{inputs}x{outputs}"] = {
            "forward": median_ms(lambda: torch.mm(x, w.t(), out=y), mlp_runs, warmup * 100),
            "weight_gradient": median_ms(lambda: dw.addmm_(dy.t(), x), mlp_runs, warmup * 100),
            "input_gradient": median_ms(lambda: torch.mm(dy, w, out=dx), mlp_runs, warmup * 100),
        }
    return results


def openblas():
    """(core name OpenBLAS chose, OPENBLAS_CORETYPE to name instead or None) for the OpenBLAS torch loaded."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        core = lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return None, None
    # A DYNAMIC_ARCH OpenBLAS that does not know the CPU (0.3.21 and this Emerald Rapids) falls back to its SSE3
    # kernels; its AVX-512 (SkylakeX) or AVX2 (Haswell) kernels run here when named.
    if core.lower() != "prescott":
        return core, None
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        return core, "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return core, "Haswell"
    return core, None


def gemm_main(args):
    torch.set_num_threads(args.threads)
    core, _ = openblas()
    report = {
        "torch": torch.__version__,
        "threads": args.threads,
        "openblas_core": core,
        "runs": args.runs,
        "warmup": args.warmup,
        "unit": "ms (median)",
        "results": bench_gemm(args.runs, args.warmup),
    }
    json.dump(report, sys.stdout, indent=2)
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--normalize", action="store_true", help="only batch_norm eval, on --threads threads (see above)")
    parser.add_argument("--gemm", action="store_true", help="time only the GEMM references, on --threads threads")
    parser.add_argument("--openblas-coretype", action="store_true", help="print the OPENBLAS_CORETYPE this CPU needs, if any")
    args = parser.parse_args()
    if args.openblas_coretype:
        print(openblas()[1] or "")
        return
    if args.normalize:
        main_normalize(args)
        return
    if args.gemm:
        gemm_main(args)
        return
    torch.set_num_threads(args.threads)
    report = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "runs": args.runs,
        "warmup": args.warmup,
        "unit": "ms (median)",
        "results": {},
    }
    for shape in SHAPES:
        key = "x".join(map(str, shape))
        print(f"torch_reference: {key}, {args.threads} threads", file=sys.stderr)
        report["results"][key] = bench_shape(shape, args.runs, args.warmup)
    if args.threads != 1:
        torch.set_num_threads(1)
        report["results_1_thread"] = {}
        for shape in SHAPES:
            key = "x".join(map(str, shape))
            print(f"torch_reference: {key}, 1 thread", file=sys.stderr)
            report["results_1_thread"][key] = bench_shape(shape, args.runs, args.warmup)
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
