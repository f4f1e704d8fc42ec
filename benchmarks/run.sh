#!/usr/bin/env bash
# Runs the benchmarks and writes BENCHMARKS.md at the repository root:
#   1. installs whichever of Debian's python3-torch (PyTorch 1.13 CPU), libopenblas0-pthread (its fast BLAS) and
#      dataset-fashion-mnist (the training epoch's data) is missing (as root, apt-get update then apt-get install);
#   2. builds benchmarks/MLNet.Normalization.Benchmarks in Release;
#   3. fits ML.NET's NormalizeMeanVariance model the cursor benchmarks read, unless an earlier run left it in
#      BenchmarkDotNet.Artifacts/fitted/ (about 6 minutes on 2 cores: Microsoft.ML's fit is quadratic in the vector length);
#   4. runs every BenchmarkDotNet class in process (JSON, CSV and markdown under BenchmarkDotNet.Artifacts/results);
#   5. runs benchmarks/torch_reference.py (2 threads) into BenchmarkDotNet.Artifacts/torch_reference.json;
#      for the per-channel normalize rows, torch_reference.py --normalize once per thread count (1 and 2), each process
#      started with OMP_NUM_THREADS and OPENBLAS_NUM_THREADS at that count, into torch_normalize_1.json and _2.json;
#      its GEMM part once per thread count, each process with OpenBLAS limited to it, into torch_gemm_{1,2}thread.json;
#   6. joins both with benchmarks/report.py into one table, printed and written to BENCHMARKS.md;
#   7. times one Fashion-MNIST epoch of the MLP and of the CNN, ours and PyTorch's, and appends those tables.
# Usage: bash benchmarks/run.sh   (from anywhere; about 12 minutes on 2 cores once the model is fitted, 17 the first time)
set -euo pipefail
cd "$(dirname "$0")/.."
COMMAND="bash benchmarks/run.sh"
PYTHON=/usr/bin/python3
ARTIFACTS=BenchmarkDotNet.Artifacts
PROJECT=benchmarks/MLNet.Normalization.Benchmarks
DLL=$PROJECT/bin/Release/net10.0/MLNet.Normalization.Benchmarks.dll

FASHION=/usr/share/datasets/fashion-mnist
MISSING=()
"$PYTHON" -c "import torch" 2>/dev/null || MISSING+=(python3-torch)
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || MISSING+=(libopenblas0-pthread)
[ -d "$FASHION" ] || MISSING+=(dataset-fashion-mnist)
if [ ${#MISSING[@]} -gt 0 ]; then
    echo "run.sh: installing ${MISSING[*]}" >&2
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${MISSING[@]}"
fi

dotnet build -c Release "$PROJECT" -nologo -v quiet

# The benchmarks write their exports here; a previous run's results must not mix in.
rm -rf "$ARTIFACTS/results"
mkdir -p "$ARTIFACTS"

dotnet "$DLL" --fit-meanvariance
# Tiered compilation starts counting calls only after 100 ms without new tier-0 code, which a short in-process
# run may never reach: kernels called once per invocation then stay in on-stack-replacement code (measured up to
# 2× slower). Counting at once makes the measured code the tier-1 code a long-running program settles on.
DOTNET_TC_CallCountingDelayMs=0 dotnet "$DLL" --filter '*' --artifacts "$ARTIFACTS"

"$PYTHON" benchmarks/torch_reference.py > "$ARTIFACTS/torch_reference.json"
for THREADS in 1 2; do
    OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS "$PYTHON" benchmarks/torch_reference.py --normalize --threads "$THREADS" \
        > "$ARTIFACTS/torch_normalize_$THREADS.json"
done

# GEMM reference: torch.set_num_threads does not limit OpenBLAS's own threads, its environment does, so one process
# per thread count. OpenBLAS 0.3.21 does not recognise every CPU (this Emerald Rapids falls back to its SSE3 kernels);
# --openblas-coretype names its best kernel this CPU runs then (SkylakeX: AVX-512), or nothing.
CORETYPE=$("$PYTHON" benchmarks/torch_reference.py --openblas-coretype)
for THREADS in 1 2; do
    env OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS ${CORETYPE:+OPENBLAS_CORETYPE=$CORETYPE} \
        "$PYTHON" benchmarks/torch_reference.py --gemm --threads $THREADS > "$ARTIFACTS/torch_gemm_${THREADS}thread.json"
done

"$PYTHON" benchmarks/report.py "$ARTIFACTS" "$ARTIFACTS/torch_reference.json" BENCHMARKS.md "$COMMAND"

# Training: one Fashion-MNIST epoch of the MLP per normalization, ours and PyTorch's, back to back (needs the full data set).
if [ -d "$FASHION" ]; then
    {
        echo
        echo "## Training: one Fashion-MNIST epoch of the MLP 784-256-256-10 (batch 64, SGD lr 0.01, momentum 0.9)"
        echo
        echo "Median of 3 epochs each; test accuracy after the epoch. Ours: \`dotnet $DLL --mlp-epoch $FASHION 3\`; PyTorch 1.13, 2 threads: \`$PYTHON benchmarks/mlp_epoch_torch.py $FASHION 3\`."
        echo
        dotnet "$DLL" --mlp-epoch "$FASHION" 3 > "$ARTIFACTS/mlp_epoch_ours.jsonl"
        "$PYTHON" benchmarks/mlp_epoch_torch.py "$FASHION" 3 > "$ARTIFACTS/mlp_epoch_torch.jsonl"
        "$PYTHON" benchmarks/report.py --epoch "$ARTIFACTS/mlp_epoch_ours.jsonl" "$ARTIFACTS/mlp_epoch_torch.jsonl"
        echo
        echo "## Training: one Fashion-MNIST epoch of the CNN conv 3×3 (32)–norm–ReLU–max pool–conv 3×3 (64)–norm–ReLU–max pool–dense 128–ReLU–dense 10 (batch 64, SGD lr 0.01, momentum 0.9)"
        echo
        echo "Median of 3 epochs each; test accuracy after the epoch; GroupNorm with 8 groups. Ours: \`dotnet $DLL --cnn-epoch $FASHION 3\`; PyTorch 1.13 (oneDNN), 2 threads: \`$PYTHON benchmarks/cnn_epoch_torch.py $FASHION 3 2\`, with OMP_NUM_THREADS=2."
        echo
        dotnet "$DLL" --cnn-epoch "$FASHION" 3 > "$ARTIFACTS/cnn_epoch_ours.jsonl"
        env OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 ${CORETYPE:+OPENBLAS_CORETYPE=$CORETYPE} "$PYTHON" benchmarks/cnn_epoch_torch.py "$FASHION" 3 2 > "$ARTIFACTS/cnn_epoch_torch.jsonl"
        "$PYTHON" benchmarks/report.py --epoch "$ARTIFACTS/cnn_epoch_ours.jsonl" "$ARTIFACTS/cnn_epoch_torch.jsonl"
    } | tee -a BENCHMARKS.md
else
    echo "run.sh: $FASHION not found (apt-get install dataset-fashion-mnist); the training rows are left out" >&2
fi
