#!/usr/bin/python3
"""Joins the BenchmarkDotNet results and the PyTorch reference into one table of ratios.

    /usr/bin/python3 benchmarks/report.py ARTIFACTS_DIR TORCH_JSON OUTPUT_MD COMMAND
    /usr/bin/python3 benchmarks/report.py --epoch OURS_JSONL TORCH_JSONL

Reads every *-report-full.json under ARTIFACTS_DIR/results (BenchmarkDotNet's JsonExporter.Full), the JSON that
torch_reference.py printed, and writes OUTPUT_MD (and prints it): the machine, the date, the command, the table
with each target marked met or missed, and the breakdown of KernelPartsBenchmarks. With --epoch it prints a training
table (one JSON line per normalization from MlpEpoch.cs or CnnEpoch.cs and from mlp_epoch_torch.py or
cnn_epoch_torch.py) as markdown.
"""
import datetime
import glob
import json
import os
import platform
import re
import subprocess
import sys

KERNEL_SHAPES = ["32x3x224x224", "32x64x56x56"]
ROW_FLOATS = 3 * 224 * 224
FITTING_BASE_ROWS = 64

# (method, label, PyTorch op, bandwidth reference, minimum memory traffic in units of that reference's traffic,
# PyTorch target, or None for a row shown for information, with no target on either ratio). The two-buffer reference reads x and writes y once; the four-buffer one also
# reads dy and writes dx: the working set of a training forward + backward, which caches hold less of than two buffers.
TWO_BUFFERS, FOUR_BUFFERS = "StreamingMultiplyAdd", "StreamingMultiplyAddFourBuffers"
KERNELS = [
    ("ChannelNormalize", "per-channel normalize (ChannelAffineKernel over (C, H, W) rows, ML.NET row kernel)", "batch_norm_eval", TWO_BUFFERS, 1.0, 1.0),
    ("BatchNormInference", "BN inference (BatchNormKernel.ApplyChannelAffine)", "batch_norm_eval", TWO_BUFFERS, 1.0, 1.0),
    ("ChannelNormalizeInterleaved", "per-channel normalize, (H, W, C) interleaved rows (ChannelAffineKernel)",
     "batch_norm_eval_channels_last", TWO_BUFFERS, 1.0, None),
    ("ChannelNormalizeInterleavedBgr", "the same reading the first three channels in reverse (Caffe's RGB → BGR)",
     "batch_norm_eval_channels_last", TWO_BUFFERS, 1.0, None),
    ("BatchNormTrainForward", "BN train forward (BatchNormKernel.ForwardTraining)", "batch_norm_train_forward", TWO_BUFFERS, 1.5, 1.0),
    ("BatchNormTrainForwardBackward", "BN train forward + backward", "batch_norm_train_forward_backward", FOUR_BUFFERS, 2.0, 1.5),
    ("LayerNorm", "LayerNorm (GroupNormKernel, G=1 over C·H·W)", "layer_norm", TWO_BUFFERS, 1.5, 1.0),
    ("GroupNorm", "GroupNorm (GroupNormKernel, G=min(32,C))", "group_norm", TWO_BUFFERS, 1.5, 1.0),
    ("InstanceNorm", "InstanceNorm (GroupNormKernel, G=C)", "instance_norm", TWO_BUFFERS, 1.5, 1.0),
]
EPOCH_TARGET = 0.5
MLP_MEMORY_TARGET = 1.5
MLP_MEMORY_ROWS, MLP_MEMORY_FEATURES = 300, 100_000
BANDWIDTH_TARGET = 0.8
MEANVAR_TARGET = 10.0
THREADS = [1, 2]


def torch_results(torch, threads):
    """PyTorch's times on as many threads as ours: the 2-thread run, or the 1-thread one."""
    return torch["results"] if threads == torch["threads"] else torch.get("results_1_thread", {})
RAW_CURSOR_TARGET = 0.7


def normalize_references(artifacts):
    """{threads: torch_reference.py --normalize report}, one per thread count that run.sh timed in its own process
    (ARTIFACTS/torch_normalize_T.json). The per-channel normalize rows take batch_norm eval from these when present."""
    references = {}
    for threads in THREADS:
        path = os.path.join(artifacts, f"torch_normalize_{threads}.json")
        if os.path.exists(path):
            with open(path) as f:
                references[threads] = json.load(f)
    return references


def parse_params(text):
    """"Shape=32x3x224x224&Threads=1" as a sorted tuple of (name, value) pairs."""
    return tuple(sorted(tuple(p.split("=", 1)) for p in re.split(r"[&,;]\s*", text or "") if "=" in p))


def load_bdn(artifacts):
    """{(type, method, params): benchmark dict} from every full JSON report; params as parse_params gives them."""
    results = {}
    env = {}
    for path in sorted(glob.glob(os.path.join(artifacts, "results", "*-report-full.json"))):
        with open(path) as f:
            report = json.load(f)
        env = report.get("HostEnvironmentInfo", env)
        for b in report["Benchmarks"]:
            results[(b["Type"], b["Method"], parse_params(b.get("Parameters", "")))] = b
    return results, env


def median_ms(results, type_, method, params=""):
    b = results.get((type_, method, parse_params(params)))
    if b is None or not b.get("Statistics"):
        return None
    return b["Statistics"]["Median"] / 1e6


def allocated(results, type_, method, params=""):
    b = results.get((type_, method, parse_params(params)))
    if b is None or b.get("Memory") is None:
        return None
    return b["Memory"].get("BytesAllocatedPerOperation")


def ms(value):
    if value is None:
        return "n/a"
    return f"{value:.3g} ms" if value < 100 else f"{value:.0f} ms"


def verdict(ratio, target):
    if ratio is None:
        return "n/a"
    return f"≥ {target:g}: **{'met' if ratio >= target else 'missed'}**"


def machine():
    model, cores = "unknown", str(os.cpu_count())
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model name":
                model = value.strip()
            elif key.strip() == "CPU(s)":
                cores = value.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return model, cores


def mlnet_version():
    props = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Directory.Packages.props")
    try:
        text = open(props).read()
        m = re.search(r'Include="Microsoft\.ML" Version="([^"]+)"', text)
        return m.group(1) if m else "?"
    except OSError:
        return "?"


def main():
    artifacts, torch_json, output, command = sys.argv[1:5]
    results, env = load_bdn(artifacts)
    with open(torch_json) as f:
        torch = json.load(f)
    normalize = normalize_references(artifacts)
    meanvar_fit = None
    for path in glob.glob(os.path.join(artifacts, "fitted", "*.fit-seconds.txt")):
        meanvar_fit = open(path).read().strip()

    rows = []
    header = ["benchmark", "shape / data", "ours", "comparison 1", "ratio 1 → target", "comparison 2", "ratio 2 → target"]
    met, missed = [], []

    def record(label, ratio, target):
        if ratio is not None:
            (met if ratio >= target else missed).append(label)

    # 1. Kernels, on 1 and 2 threads, each against the streaming reference and PyTorch on as many threads.
    for shape in KERNEL_SHAPES:
        for threads in THREADS:
            params = f"Shape={shape}&Threads={threads}"
            references = {name: median_ms(results, "KernelBenchmarks", name, params) for name in (TWO_BUFFERS, FOUR_BUFFERS)}
            stream = references[TWO_BUFFERS]
            torch_shape = torch_results(torch, threads).get(shape, {})
            torch_normalize = {**torch_shape, **normalize.get(threads, {}).get("results", {}).get(shape, {})}
            where = f"{shape}, {threads} thread{'s' if threads > 1 else ''}"
            rows.append(["streaming x·a+b (Vector256, bandwidth reference)", where, ms(stream), "—", "—",
                         f"PyTorch `x*a+b`: {ms(torch_shape.get('mul_add'))} (fused `torch.add(out=)`: {ms(torch_shape.get('mul_add_fused_out'))})",
                         f"{torch_shape['mul_add'] / stream:.2f}× (no target)" if stream and torch_shape.get("mul_add") else "n/a"])
            four = references[FOUR_BUFFERS]
            rows.append(["streaming x·a+b over four buffers (x → y, dy → dx)", where, ms(four),
                         f"two buffers: {ms(stream)}", f"{four / stream:.2f}× the two-buffer time (no target)" if four and stream else "n/a",
                         "—", "—"])
            for method, label, op, reference, traffic, torch_target in KERNELS:
                ours = median_ms(results, "KernelBenchmarks", method, params)
                theirs = torch_normalize.get(op)
                t_ref = references[reference]
                bandwidth = traffic * t_ref / ours if ours and t_ref else None
                raw = t_ref / ours if ours and t_ref else None
                speedup = theirs / ours if ours and theirs else None
                targeted = torch_target is not None
                if targeted:
                    record(f"{label}, {where}: bandwidth", bandwidth, BANDWIDTH_TARGET)
                    record(f"{label}, {where}: vs PyTorch", speedup, torch_target)
                rows.append([
                    label, where, ms(ours),
                    f"{'streaming' if reference == TWO_BUFFERS else 'four-buffer streaming'}: {ms(t_ref)}; min. traffic ×{traffic:g}",
                    (f"{bandwidth:.2f} of bandwidth (raw t_ref/t = {raw:.3f}) → {verdict(bandwidth, BANDWIDTH_TARGET)}" if bandwidth and targeted else
                     f"{bandwidth:.2f} of bandwidth (no target)" if bandwidth else "n/a"),
                    f"PyTorch `{op}`: {ms(theirs)}",
                    (f"{speedup:.2f}× (no target)" if speedup and not targeted else
                     f"{speedup:.2f}× → {verdict(speedup, torch_target)}" if speedup else "n/a"),
                ])

    # 2. Through ML.NET.
    raw_cursor = median_ms(results, "CursorBenchmarks", "RawCursor")
    meanvar = median_ms(results, "CursorBenchmarks", "MLNetNormalizeMeanVariance")
    data = f"{256} rows × (3, 224, 224), cached"
    rows.append(["ML.NET raw cursor over the input column (baseline)", data, ms(raw_cursor), "—", "—", "—", "—"])
    for method, label, targeted in [
        ("NormalizeChannelsImageNet", "cursor over NormalizeChannels(ImageNet)", True),
        ("BatchNormGivenParameters", "cursor over BatchNorm(given parameters)", True),
        ("MLNetNormalizeMeanVariance", "cursor over ML.NET NormalizeMeanVariance (fitted)", False),
        ("MLNetNormalizeMinMax", "cursor over ML.NET NormalizeMinMax (fitted)", False),
    ]:
        ours = median_ms(results, "CursorBenchmarks", method)
        vs_meanvar = meanvar / ours if ours and meanvar else None
        vs_raw = raw_cursor / ours if ours and raw_cursor else None
        if targeted:
            record(f"{label}: vs NormalizeMeanVariance", vs_meanvar, MEANVAR_TARGET)
            record(f"{label}: vs raw cursor", vs_raw, RAW_CURSOR_TARGET)
        rows.append([
            label, data, ms(ours),
            f"NormalizeMeanVariance: {ms(meanvar)}",
            (f"{vs_meanvar:.2f}× → {verdict(vs_meanvar, MEANVAR_TARGET)}" if targeted and vs_meanvar else
             f"{vs_meanvar:.2f}× (ML.NET, no target)" if vs_meanvar else "n/a"),
            f"raw cursor: {ms(raw_cursor)}",
            (f"{vs_raw:.2f} → {verdict(vs_raw, RAW_CURSOR_TARGET)}" if targeted and vs_raw else
             f"{vs_raw:.2f} (ML.NET, no target)" if vs_raw else "n/a"),
        ])

    # The same NormalizeChannels + BatchNorm pipeline exported with ConvertToOnnx and run in ONNX Runtime.
    onnx_cursor = median_ms(results, "OnnxExportBenchmarks", "MLNetCursor")
    if onnx_cursor:
        rows.append(["cursor over NormalizeChannels(ImageNet) → BatchNorm (ML.NET, baseline)", data, ms(onnx_cursor), "—", "—", "—", "—"])
        for method, label in [("OnnxRuntimeBatch", "the exported graph in ONNX Runtime, one batch of 256"),
                              ("OnnxRuntimeRows", "the exported graph in ONNX Runtime, row by row")]:
            t = median_ms(results, "OnnxExportBenchmarks", method)
            rows.append([label, data, ms(t), f"ML.NET cursor: {ms(onnx_cursor)}",
                         f"{onnx_cursor / t:.2f}× ML.NET's speed (no target)" if t else "n/a", "—", "—"])

    # 3. Fitting.
    def throughput(method, scale):
        t = median_ms(results, "FittingBenchmarks", method, f"Scale={scale}")
        if t is None:
            return None
        return FITTING_BASE_ROWS * scale * ROW_FLOATS * 4 / 1e6 / (t / 1e3)

    scan = {s: throughput("ScanGenerated", s) for s in (1, 4)}
    for method, label in [("FitNormalizeChannels", "fit NormalizeChannels (statistics null)"),
                          ("FitBatchNormExact", "fit BatchNorm FitMode.Exact")]:
        tp = {s: throughput(method, s) for s in (1, 4)}
        alloc = {s: allocated(results, "FittingBenchmarks", method, f"Scale={s}") for s in (1, 4)}
        growth = alloc[4] / alloc[1] if alloc[1] and alloc[4] is not None else None
        # Allocations must not grow with the data: 4× the rows may allocate at most 10 % more.
        flat = growth is not None and growth <= 1.1
        if growth is not None:
            (met if flat else missed).append(f"{label}: allocations flat in the data")
        rows.append([
            label, f"{FITTING_BASE_ROWS} / {4 * FITTING_BASE_ROWS} rows generated lazily (1× / 4×)",
            f"{tp[1]:.0f} / {tp[4]:.0f} MB/s" if tp[1] and tp[4] else "n/a",
            f"scan of the generated column: {scan[1]:.0f} / {scan[4]:.0f} MB/s" if scan[1] and scan[4] else "n/a",
            f"{tp[4] / scan[4]:.2f} of the scan's throughput at 4× (no target)" if tp[4] and scan[4] else "n/a",
            f"allocated per fit: {alloc[1]:,} / {alloc[4]:,} B" if alloc[1] is not None and alloc[4] is not None else "n/a",
            f"4×/1× = {growth:.2f} → ≤ 1.1 (flat): **{'met' if flat else 'missed'}**" if growth is not None else "n/a",
        ])

    # 4. The MLP trainer's memory: bytes allocated by one Fit over the features' own bytes.
    feature_bytes = MLP_MEMORY_ROWS * MLP_MEMORY_FEATURES * 4
    fit = {known: allocated(results, "MlpMemoryBenchmarks", "FitOneEpoch", f"RowCountKnown={known}") for known in ("True", "False")}
    if any(a is not None for a in fit.values()):
        ratios = {known: a / feature_bytes if a is not None else None for known, a in fit.items()}
        for known, ratio in ratios.items():
            if ratio is not None:
                (met if ratio <= MLP_MEMORY_TARGET else missed).append(f"MLP Fit, row count {'known' if known == 'True' else 'unknown'}: allocated ÷ feature bytes")
        cell = " / ".join(f"{ratios[k]:.2f}×" if ratios[k] is not None else "n/a" for k in ("True", "False"))
        verdicts = [r is not None and r <= MLP_MEMORY_TARGET for r in ratios.values()]
        rows.append([
            "MLP trainer Fit, 1 epoch: bytes allocated (MlpMemoryBenchmarks)",
            f"{MLP_MEMORY_ROWS} rows × {MLP_MEMORY_FEATURES:,} features generated, row count known / unknown",
            " / ".join(f"{fit[k] / 2**20:.0f} MiB" if fit[k] is not None else "n/a" for k in ("True", "False")),
            f"the features: {feature_bytes / 2**20:.0f} MiB",
            f"{cell} of the features → ≤ {MLP_MEMORY_TARGET:g}: **{'met' if all(verdicts) else 'missed'}**",
            "—", "—",
        ])

    model, cores = machine()
    lines = [
        "# Benchmarks",
        "",
        f"- machine: {model}, {cores} cores ({platform.machine()}, {platform.system()})",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- command: `{command}`",
        f"- .NET: {env.get('RuntimeVersion', '?')}, BenchmarkDotNet {env.get('BenchmarkDotNetVersion', '?')}, "
        f"in-process, 2 warmup + 5 iterations, medians, tier-1 code (DOTNET_TC_CallCountingDelayMs=0, see run.sh); Microsoft.ML {mlnet_version()}; kernels and GEMM on 1 and 2 threads, each against references on as many",
        f"- PyTorch {torch['torch']} CPU, {torch['threads']} threads, median of {torch['runs']} runs after {torch['warmup']} warmup calls",
    ] + [
        f"- per-channel normalize rows, {threads} thread{'s' if threads > 1 else ''}: PyTorch `batch_norm` eval "
        f"(`F.batch_norm(x, mean, var, w, b, training=False)`, inference mode) from its own process started with "
        f"OMP_NUM_THREADS={reference['environment']['OMP_NUM_THREADS']} and OPENBLAS_NUM_THREADS={reference['environment']['OPENBLAS_NUM_THREADS']} "
        f"(`torch_reference.py --normalize`), median of {reference['runs']} runs after {reference['warmup']} warmup calls"
        for threads, reference in sorted(normalize.items())
    ] + [
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += [
        "",
        "Ratio 1 of a kernel is the fraction of the streaming reference's bandwidth it reaches: k · t_ref / t_ours, "
        "where t_ref is the reference over the same working set and k the least memory traffic the kernel needs in "
        "units of the reference's. For the kernels that touch x and y, the reference reads x and writes y once: "
        "normalize 1; a training forward or a per-sample norm reads x twice and writes y once, 1.5. A training "
        "forward + backward touches four batch-sized buffers (x, y, dy, dx), which fit in cache less well than two, "
        "so its reference is the four-buffer one (x → y, then dy → dx), and it needs at least twice that reference's "
        "traffic (x read for the sums and for y, dy and x read for the sums and for dx). The raw t_ref / t_ours is "
        "shown beside it. Ratio 2 of a kernel is t_PyTorch / t_ours (target 1.5 for BN train forward + backward, 1.0 "
        "otherwise); PyTorch allocates its outputs, our kernels write into preallocated buffers. Through ML.NET, ratio 1 is "
        "t_NormalizeMeanVariance / t_ours and ratio 2 is t_raw_cursor / t_ours. The MLP trainer's ratio is the bytes one "
        "Fit allocates (BenchmarkDotNet's memory diagnoser) over the bytes of its features: the features held once, plus "
        "what one epoch of the smallest network needs.",
    ]
    if meanvar_fit:
        lines += ["", f"Fitting ML.NET's NormalizeMeanVariance on the 150,528-slot column took {meanvar_fit} s "
                      "(Microsoft.ML's fit is quadratic in the vector length); the fitted model is kept in "
                      "BenchmarkDotNet.Artifacts/fitted/ and reused by later runs."]

    lines += ["", f"Targets met: {len(met)}; missed: {len(missed)}."]
    if missed:
        lines += [""] + [f"- missed: {m}" for m in missed]
        lines += ["", "Why each kind of miss happens, with the measurements that show it: [README.md, Performance](README.md#performance)."]

    lines += gemm_section(results, artifacts)
    lines += convolution_section(results)

    # Through ML.NET: where the time goes.
    cursor_diagnostics = [
        ("RawCursor", "raw cursor over the input column"),
        ("MLNetCopyColumns", "cursor over ML.NET CopyColumns (no computation)"),
        ("NormalizeChannelsImageNet", "cursor over NormalizeChannels(ImageNet)"),
        ("NormalizeChannelsRowMapper", "NormalizeChannels(ImageNet) through its row mapper over the raw cursor"),
        ("MLNetNormalizeMeanVariance", "cursor over ML.NET NormalizeMeanVariance"),
        ("MLNetNormalizeMeanVarianceRowMapper", "ML.NET NormalizeMeanVariance through its row mapper over the raw cursor"),
    ]
    if any(median_ms(results, "CursorBenchmarks", m) for m, _ in cursor_diagnostics):
        lines += ["", "## Where the time goes through ML.NET", "",
                  "CursorBenchmarks diagnostics: `IDataView.GetRowCursor` over a transform's output splits the cached input "
                  "over parallel cursors and consolidates their rows (ML.NET's DataViewUtils.Splitter); a row mapper over a "
                  "plain cursor runs the same transform on the calling thread.", "",
                  "| path | time | ÷ raw cursor | allocated per pass over 256 rows |", "|---|---|---|---|"]
        for method, label in cursor_diagnostics:
            t = median_ms(results, "CursorBenchmarks", method)
            a = allocated(results, "CursorBenchmarks", method)
            lines.append(f"| {label} | {ms(t)} | {t / raw_cursor:.2f} | {a:,} B |" if t and raw_cursor and a is not None else f"| {label} | n/a | n/a | n/a |")

    # Breakdown of the kernels (KernelPartsBenchmarks), as multiples of the streaming reference.
    parts = sorted({k[1] for k in results if k[0] == "KernelPartsBenchmarks"},
                   key=lambda m: [k[1] for k in results].index(m))
    if parts:
        lines += ["", "## Where the kernel time goes", "",
                  "KernelPartsBenchmarks: the library kernels' parts on one thread, median time and as a multiple of the "
                  "streaming reference (one read and one write of the batch) of the same shape.",
                  "", "| part | " + " | ".join(KERNEL_SHAPES) + " |", "|---|" + "---|" * len(KERNEL_SHAPES)]
        for method in parts:
            cells = []
            for shape in KERNEL_SHAPES:
                t = median_ms(results, "KernelPartsBenchmarks", method, f"Shape={shape}")
                base = median_ms(results, "KernelPartsBenchmarks", "StreamingMultiplyAdd", f"Shape={shape}")
                cells.append(f"{ms(t)} ({t / base:.1f}×)" if t and base else "n/a")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")

    text = "\n".join(lines) + "\n"
    with open(output, "w") as f:
        f.write(text)
    print(text)


# (MlpGemmBenchmarks method, label, key in torch_reference.py --gemm's results, PyTorch call).
GEMM_OPS = [
    ("Forward", "forward Y = X·Wᵀ", "forward", "torch.mm(x, w.t())"),
    ("WeightGradient", "weight gradient dW += dYᵀ·X", "weight_gradient", "dw.addmm_(dy.t(), x)"),
    ("InputGradient", "input gradient dX = dY·W", "input_gradient", "torch.mm(dy, w)"),
]
GEMM_MLP_SHAPES = ["64x784x256", "64x256x256", "64x256x10"]


# ConvolutionBenchmarks shapes: (parameter, label, forward multiply-adds at batch 64: Cout · Cin · 9 · H · W · 64).
CONV_SHAPES = [("1x28x28to32", "conv 3×3, 1 → 32 channels, 28 × 28", 32 * 1 * 9 * 784 * 64),
               ("32x14x14to64", "conv 3×3, 32 → 64 channels, 14 × 14", 64 * 32 * 9 * 196 * 64)]


def convolution_section(results):
    """The convolution table: Conv2dLayer's forward and backward at the CNN's shapes on 1 and 2 threads, in GFLOP/s
    beside the GEMM's at 1024³ (the backward is two products, the weight and the input gradient)."""
    if not any(median_ms(results, "ConvolutionBenchmarks", "Forward", f"Shape={shape}&Threads=1") for shape, *_ in CONV_SHAPES):
        return []
    gemm = {t: median_ms(results, "GemmBenchmarks", "Multiply1024", f"Threads={t}") for t in THREADS}
    lines = ["", "## Convolution (Training/Compute/Convolution.cs)", "",
             "BenchmarkDotNet medians of `ConvolutionBenchmarks`: Conv2dLayer at the Fashion-MNIST CNN's two convolutions, "
             "batch 64, padding 1; a training forward, and the backward (dW, db, dx: twice the forward's operations). "
             "The GEMM's 1024³ rate on the same thread count is the reference: "
             + ", ".join(f"{2 * 1024 ** 3 / gemm[t] / 1e6:.0f} GFLOP/s on {t} thread{'s' if t > 1 else ''}" for t in THREADS if gemm[t])
             + ".", "",
             "| layer | pass | 1 thread | 2 threads | speedup 2 / 1 threads |", "|---|---|---|---|---|"]
    for shape, label, multiply_adds in CONV_SHAPES:
        for method, factor in (("Forward", 2), ("Backward", 4)):
            times = {t: median_ms(results, "ConvolutionBenchmarks", method, f"Shape={shape}&Threads={t}") for t in THREADS}
            cells = [label, method.lower()]
            for t in THREADS:
                cells.append(f"{ms(times[t])} ({factor * multiply_adds / times[t] / 1e6:.0f} GFLOP/s)" if times[t] else "n/a")
            cells.append(f"{times[1] / times[2]:.2f}×" if times[1] and times[2] else "n/a")
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def gemm_section(results, artifacts):
    """The GEMM table: ours and torch.mm on 1 and 2 threads per product, t_PyTorch / t_ours, and our 2-thread speedup.

    PyTorch's times come from ARTIFACTS_DIR/torch_gemm_{1,2}thread.json, one torch_reference.py --gemm process per
    thread count with OpenBLAS limited to it (run.sh)."""
    torch_gemm = {}
    for threads in THREADS:
        path = os.path.join(artifacts, f"torch_gemm_{threads}thread.json")
        if os.path.exists(path):
            with open(path) as f:
                torch_gemm[threads] = json.load(f)
    cases = [("GemmBenchmarks", "Multiply1024", "", "C = A·B", "1024³", 1024 ** 3,
              lambda r: r.get("gemm_1024"), "torch.mm(a, b)")]
    for shape in GEMM_MLP_SHAPES:
        batch, inputs, outputs = map(int, shape.split("x"))
        for method, label, key, call in GEMM_OPS:
            cases.append(("MlpGemmBenchmarks", method, f"Shape={shape}&", label, shape.replace("x", "×"), batch * inputs * outputs,
                          lambda r, shape=shape, key=key: r.get(shape, {}).get(key), call))
    if not any(median_ms(results, type_, method, f"{params}Threads=1") for type_, method, params, *_ in cases):
        return []

    def time(value):
        return f"{value * 1e3:.1f} µs" if value is not None and value < 1 else ms(value)

    cores = {t: g.get("openblas_core") for t, g in torch_gemm.items()}
    lines = ["", "## GEMM (Training/Compute/Gemm.cs) against PyTorch", "",
             "BenchmarkDotNet medians of `GemmBenchmarks` and `MlpGemmBenchmarks`; PyTorch "
             + (f"{next(iter(torch_gemm.values()))['torch']} " if torch_gemm else "")
             + "medians from `torch_reference.py --gemm`, one process per thread count with OPENBLAS_NUM_THREADS and "
             "OMP_NUM_THREADS set to it (torch.set_num_threads alone leaves OpenBLAS on every core), OpenBLAS kernel "
             + (", ".join(f"{core} ({t} thread{'s' if t > 1 else ''})" for t, core in cores.items()) or "n/a")
             + ". Shapes are batch × inputs × outputs (M × K × N) of the MLP's Linear layers, each product as LinearLayer "
             "calls it; ratio = t_PyTorch / t_ours (above 1: ours faster); speedup = our 1-thread time / our 2-thread time.",
             "",
             "| product | shape | ours, 1 thread | PyTorch, 1 thread | ratio, 1 thread | ours, 2 threads | PyTorch, 2 threads "
             "| ratio, 2 threads | our speedup 2 / 1 threads |",
             "|---|---|---|---|---|---|---|---|---|"]
    for type_, method, params, label, shape, multiply_adds, theirs_of, call in cases:
        cells = [label, shape]
        ours = {}
        for threads in THREADS:
            ours[threads] = median_ms(results, type_, method, f"{params}Threads={threads}")
            theirs = theirs_of(torch_gemm.get(threads, {}).get("results", {}))
            flops = 2 * multiply_adds
            cells.append(f"{time(ours[threads])} ({flops / ours[threads] / 1e6:.0f} GFLOP/s)" if ours[threads] else "n/a")
            cells.append(f"{time(theirs)} ({flops / theirs / 1e6:.0f} GFLOP/s), `{call}`" if theirs else "n/a")
            cells.append(f"{theirs / ours[threads]:.2f}×" if theirs and ours[threads] else "n/a")
        cells.append(f"{ours[1] / ours[2]:.2f}×" if ours[1] and ours[2] else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def epoch_table(ours_path, torch_path):
    """Markdown table of a training epoch (the MLP's or the CNN's): our time over PyTorch's per normalization, target
    ≤ EPOCH_TARGET, with the bytes our epoch allocated when the run recorded them."""
    def read(path):
        with open(path) as f:
            return {r["normalization"]: r for r in map(json.loads, filter(str.strip, f))}
    ours, theirs = read(ours_path), read(torch_path)
    allocations = all("allocated_bytes" in r for r in ours.values())
    lines = ["| normalization | ours: epoch, test accuracy | PyTorch 1.13, 2 threads: epoch, test accuracy | t_ours / t_PyTorch → target |"
             + (" ours: allocated in the epoch |" if allocations else ""),
             "|---|---|---|---|" + ("---|" if allocations else "")]
    for name, mine in ours.items():
        other = theirs.get(name)
        ratio = mine["epoch_seconds"] / other["epoch_seconds"] if other else None
        verdict_text = (f"{ratio:.2f} → ≤ {EPOCH_TARGET}: **{'met' if ratio <= EPOCH_TARGET else 'missed'}**"
                        if ratio else "n/a")
        lines.append(f"| {name} | {mine['epoch_seconds']:.2f} s, {100 * mine['test_accuracy']:.1f} % | "
                     + (f"{other['epoch_seconds']:.2f} s, {100 * other['test_accuracy']:.1f} %" if other else "n/a")
                     + f" | {verdict_text} |"
                     + (f" {mine['allocated_bytes'] / 2**20:.1f} MiB |" if allocations else ""))
    print("\n".join(lines))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--epoch"]:
        epoch_table(sys.argv[2], sys.argv[3])
    else:
        main()
