#!/usr/bin/env bash
# Every GPU figure that BENCHMARKS.md asks for, most important first, on the
# flan-t5-base architecture with random weights (nothing is downloaded):
#
#   benchmarks/gpu.sh OUT_DIR [MODEL]        MODEL: flan-t5-base (default) or tiny
#
#   1. pipeline            the whole `dvc repro`, stage by stage, with the committed params
#   2. throughput          tutorial vs project settings: the stage's Trainer at batch 8 and 64,
#                          eager and compiled; generation one at a time, batched, adapter merged
#   3. pipeline-compiled   the whole pipeline again with train.compile=true
#
# Each writes OUT_DIR/NAME.json and OUT_DIR/NAME.log as soon as it ends, so a
# run cut short still leaves what finished; one that fails does not stop the
# next. OUT_DIR/machine.txt records the GPU and the library versions.
#
# On a machine without the project's packages and without a network, set
# WHEELS to a folder of wheels (pip download --no-deps, for that machine's
# Python): they are installed to a temporary folder first and put ahead of
# the machine's own packages.
set -uo pipefail

out=${1:?usage: benchmarks/gpu.sh OUT_DIR [flan-t5-base|tiny]}
model=${2:-flan-t5-base}
cd "$(dirname "$0")/.."
mkdir -p "$out"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TQDM_DISABLE=1 PYTHONUNBUFFERED=1  # logs show what finished, even if cut short

if ! command -v python > /dev/null; then  # the stages' commands in dvc.yaml call `python`
    python3=$(command -v python3) || { echo "error: no python or python3 on PATH" >&2; exit 2; }
    shim=$(mktemp -d)
    printf '#!/bin/sh\nexec "%s" "$@"\n' "$python3" > "$shim/python"
    chmod +x "$shim/python"
    export PATH="$shim:$PATH"
fi

if [ -n "${WHEELS:-}" ]; then
    site=$(mktemp -d)
    python -m pip install -q --no-index --no-deps --no-compile --target "$site" "$WHEELS"/*.whl \
        || { echo "error: could not install the wheels in $WHEELS" >&2; exit 2; }
    export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi

# benchmarks.pipeline copies the checkout's files as git lists them.
command -v git > /dev/null || { echo "error: benchmarks.pipeline needs git on PATH" >&2; exit 2; }
git rev-parse --is-inside-work-tree > /dev/null 2>&1 || git init -q .

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
    python - <<'EOF'
import importlib.metadata, platform
print("python", platform.python_version())
for name in ("torch", "transformers", "peft", "accelerate", "datasets", "dvc", "dvclive", "rouge_score"):
    print(name, importlib.metadata.version(name))
EOF
} > "$out/machine.txt" 2>&1
cat "$out/machine.txt"

failed=0
run() {
    local name=$1
    shift
    echo "== $name: $*"
    local start=$SECONDS
    # An empty compile cache each time, so compile times are not hidden by an earlier run's kernels.
    TORCHINDUCTOR_CACHE_DIR=$(mktemp -d) "$@" --json "$out/$name.json" > "$out/$name.log" 2>&1
    local status=$?
    tail -n 25 "$out/$name.log"
    echo "== $name: exit $status after $((SECONDS - start)) s"
    [ "$status" -eq 0 ] || failed=1
}

run pipeline python -m benchmarks.pipeline --model "$model"
run throughput python -m benchmarks.throughput --model "$model" --train-batch-size 8 64 --compile --merge
run pipeline-compiled python -m benchmarks.pipeline --model "$model" --set train.compile=true
exit $failed
