#!/usr/bin/env bash
# Every GPU figure that BENCHMARKS.md asks for, most important first, on the
# flan-t5-base architecture with random weights (nothing is downloaded):
#
#   [MODEL=tiny] [WHEELS=DIR] benchmarks/gpu.sh OUT_DIR [RUN ...]
#
# RUNs, in this order (default: all four):
#   pipeline            the whole `dvc repro`, stage by stage, with the committed params
#   throughput          tutorial vs project settings: the stage's Trainer at batch 8 and 64,
#                       eager and compiled; generation one at a time, and batched (64, merged
#                       adapter too, and 256 merged)
#   pipeline-compiled   the whole pipeline again with train.compile=true
#   methods             LoRA, IA3 and full fine-tuning in one plain loop at batch 8: seconds per
#                       step and peak memory, each method in a process of its own
#
# MODEL is flan-t5-base (the default) or tiny (a dry run on a CPU). Each RUN
# writes OUT_DIR/RUN.json and OUT_DIR/RUN.log as soon as it ends, so a call cut
# short still leaves what finished; one that fails does not stop the next.
# OUT_DIR/machine.txt records the GPU and the library versions.
#
# On a machine without the project's packages and without a network, set
# WHEELS to a folder of wheels (pip download --no-deps, for that machine's
# Python): they are installed to a temporary folder first and put ahead of
# the machine's own packages.
set -uo pipefail

[ $# -ge 1 ] || { echo "usage: benchmarks/gpu.sh OUT_DIR [pipeline] [throughput] [pipeline-compiled] [methods]" >&2; exit 2; }
out=$1
shift
runs=${*:-pipeline throughput pipeline-compiled methods}
model=${MODEL:-flan-t5-base}
for name in $runs; do
    case $name in
        pipeline | throughput | pipeline-compiled | methods) ;;
        *) echo "error: unknown run '$name': choose from pipeline, throughput, pipeline-compiled, methods" >&2; exit 2 ;;
    esac
done
mkdir -p "$out" && out=$(CDPATH='' cd -- "$out" && pwd) || exit 2
if [ -n "${WHEELS:-}" ]; then
    [ -d "$WHEELS" ] || { echo "error: WHEELS=$WHEELS is not a folder" >&2; exit 2; }
    WHEELS=$(CDPATH='' cd -- "$WHEELS" && pwd)
fi
CDPATH='' cd -- "$(dirname "$0")/.." || exit 2
scratch=$(mktemp -d)  # the python shim, installed wheels and compile caches; removed at exit
trap 'rm -rf "$scratch"' EXIT
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TQDM_DISABLE=1 PYTHONUNBUFFERED=1  # logs show what finished, even if cut short

if ! command -v python > /dev/null; then  # the stages' commands in dvc.yaml call `python`
    python3=$(command -v python3) || { echo "error: no python or python3 on PATH" >&2; exit 2; }
    mkdir "$scratch/bin"
    printf '#!/bin/sh\nexec "%s" "$@"\n' "$python3" > "$scratch/bin/python"
    chmod +x "$scratch/bin/python"
    export PATH="$scratch/bin:$PATH"
fi

if [ -n "${WHEELS:-}" ]; then
    python -m pip install -q --no-index --no-deps --no-compile --target "$scratch/site" "$WHEELS"/*.whl \
        || { echo "error: could not install the wheels in $WHEELS" >&2; exit 2; }
    export PYTHONPATH="$scratch/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi

# benchmarks.pipeline copies the checkout's files as `git ls-files` lists them; a copy of the
# files without .git (as some machines get it) becomes a repository here.
command -v git > /dev/null || { echo "error: benchmarks.pipeline needs git on PATH" >&2; exit 2; }
[ -e .git ] || git init -q .
git ls-files > /dev/null || { echo "error: git cannot list this checkout's files (see above)" >&2; exit 2; }

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
    python - <<'EOF'
import importlib.metadata, platform
print("python", platform.python_version())
for name in ("torch", "transformers", "peft", "accelerate", "datasets", "dvc", "dvclive", "rouge_score", "nltk"):
    print(name, importlib.metadata.version(name))
EOF
} > "$out/machine.txt" 2>&1
cat "$out/machine.txt"

failed=0
run() {
    local name=$1
    shift
    [[ " $runs " == *" $name "* ]] || return 0
    echo "== $name: $*"
    local start=$SECONDS
    # An empty compile cache each time, so compile times are not hidden by an earlier run's kernels.
    TORCHINDUCTOR_CACHE_DIR=$(mktemp -d -p "$scratch") "$@" --json "$out/$name.json" > "$out/$name.log" 2>&1
    local status=$?
    tail -n 25 "$out/$name.log"
    echo "== $name: exit $status after $((SECONDS - start)) s"
    [ "$status" -eq 0 ] || failed=1
}

run pipeline python -m benchmarks.pipeline --model "$model"
run throughput python -m benchmarks.throughput --model "$model" --train-batch-size 8 64 --compile \
    --gen-batch-size 64 256
run pipeline-compiled python -m benchmarks.pipeline --model "$model" --set train.compile=true
run methods python -m benchmarks.methods --model "$model" --batch-size 8 --steps 20 --warmup-steps 3
exit $failed
