#!/usr/bin/env bash
# The issue-17 device check, in one run on a lent GPU (the `device` tool; see the README,
# "Speed"): airbench94 against the airbench package, the MNIST population against the
# sequential engine, and FusedAdamW against torch's on CUDA. It needs, carried beside the
# working tree in .wheels/ (ignored by git): airbench-*.tar.gz and the wheels the device
# image lacks (pip download airbench platformdirs pytest pluggy iniconfig --no-deps -d .wheels).
# Writes its output to $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
for module in platformdirs pytest; do
    python -c "import $module" 2>/dev/null || pip install -q --no-deps --no-index .wheels/*.whl
done
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"

python -m pytest -q -p no:cacheprovider tests/tasks/mlp/test_optim.py 2>&1 | tail -3 | tee "$out/optim.txt"

python scripts/gpu_check.py --airbench-sdist .wheels/airbench-*.tar.gz --acts relu,gelu --seeds 3 | tee "$out/airbench.txt"

# The MNIST population on the GPU against the sequential engine: the same 40 trials.
for engine in population sequential; do
    start=$(date +%s%N)
    python -m actbench run --task mnist-mini --acts relu,gelu,silu,srelu --repeats 10 --epochs 5 \
        --device cuda --engine "$engine" --results-dir "$out/mnist-$engine" -q
    echo "$engine: $(( ($(date +%s%N) - start) / 1000000 )) ms for 40 trials x 5 epochs of mnist-mini" | tee -a "$out/mnist.txt"
done
