#!/usr/bin/env bash
# Every GPU figure that BENCHMARKS.md asks for, on the flan-t5-base architecture with random
# weights (nothing is downloaded):
#
#   [MODEL=tiny] [WHEELS=DIR] [FAST="KEY=VALUE ..."] [COMMIT=SHA] benchmarks/gpu.sh OUT_DIR [RUN ...]
#
# RUNs (default: the first nine, most important first; name some to split the work where a
# command's time is limited). The finetune stage's speed, 150 steps, then 5 profiled:
#   speed-eager         the committed params
#   speed-compiled      the FAST settings (default: frozen weights in bf16, batches padded to a
#                       multiple of 64 tokens, torch.compile)
#   speed-bf16          frozen weights in bf16 only
#   speed-bucketed      frozen weights in bf16, padded to a multiple of 64
#   speed-graphs        FAST with torch.compile's reduce-overhead mode (CUDA graphs)
# whether the optimisation is unchanged: 100 steps without dropout, each step's loss (the first 50 compared)
#   losses-eager        the committed params
#   losses-fast         the FAST settings
# the whole pipeline, every step trained, measured end to end:
#   repro-fast          with the FAST settings
#   repro               with the committed params
# and the earlier comparisons:
#   pipeline            the whole pipeline with 100 training steps, the rest projected
#   throughput          tutorial vs project settings: the stage's Trainer at batch 8 and 64,
#                       eager and compiled; generation one at a time, and batched (64, merged
#                       adapter too, and 256 merged)
#   pipeline-compiled   the projected pipeline again with train.torch_compile=true
#   methods             LoRA, IA3 and full fine-tuning in one plain loop at batch 8: seconds per
#                       step and peak memory, each method in a process of its own
#
# MODEL is flan-t5-base (the default) or tiny (a dry run on a CPU). Each RUN writes
# OUT_DIR/RUN.json and OUT_DIR/RUN.log as soon as it ends, so a call cut short still leaves what
# finished; one that fails does not stop the next. OUT_DIR/machine.txt records the GPU and the
# library versions, OUT_DIR/machine.json the date and the commit (COMMIT, or git's HEAD), and at
# the end benchmarks.speed_report sums up the speed-, losses- and repro runs in OUT_DIR/<gpu>-<date>.json
# (what benchmarks/results/ keeps).
#
# On a machine without the project's packages and without a network, set
# WHEELS to a folder of wheels (pip download --no-deps, for that machine's
# Python): they are installed to a temporary folder first and put ahead of
# the machine's own packages.
set -uo pipefail

[ $# -ge 1 ] || { echo "usage: benchmarks/gpu.sh OUT_DIR [RUN ...] (RUNs: see the script's first lines)" >&2; exit 2; }
out=$1
shift
issue_runs="speed-eager speed-compiled losses-eager losses-fast repro-fast speed-bf16 speed-bucketed speed-graphs repro"
all_runs="$issue_runs pipeline throughput pipeline-compiled methods"
runs=${*:-$issue_runs}
model=${MODEL:-flan-t5-base}
for name in $runs; do
    [[ " $all_runs " == *" $name "* ]] || { echo "error: unknown run '$name': choose from ${all_runs// /, }" >&2; exit 2; }
done
# The settings tried against the committed ones, each as benchmarks.pipeline's --set takes it.
fast=${FAST:-train.frozen_dtype=bfloat16 train.pad_to_multiple_of=64 train.torch_compile=true}
read -r -a fast_words <<< "$fast"  # split on spaces, never globbed
fast_sets=()
for setting in ${fast_words[@]+"${fast_words[@]}"}; do fast_sets+=(--set "$setting"); done
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
commit=${COMMIT:-$(git rev-parse --verify -q HEAD || echo unknown)}
COMMIT=$commit FAST=$fast python -c 'import datetime, json, os, sys
json.dump({"date": datetime.datetime.now(datetime.timezone.utc).date().isoformat(), "commit": os.environ["COMMIT"],
           "fast": os.environ["FAST"]}, sys.stdout)' > "$out/machine.json"

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

speed=(python -m benchmarks.pipeline --model "$model" --stages prepare finetune --train-steps 150 --profile 5)
losses=(python -m benchmarks.pipeline --model "$model" --stages prepare finetune --train-steps 100 --no-dropout
        --set train.logging_steps=1 --set train.validation_rouge_dialogues=0)
whole=(python -m benchmarks.pipeline --model "$model" --whole)
run speed-eager "${speed[@]}"
run speed-compiled "${speed[@]}" ${fast_sets[@]+"${fast_sets[@]}"}
run losses-eager "${losses[@]}"
run losses-fast "${losses[@]}" ${fast_sets[@]+"${fast_sets[@]}"}
run repro-fast "${whole[@]}" ${fast_sets[@]+"${fast_sets[@]}"}
run speed-bf16 "${speed[@]}" --set train.frozen_dtype=bfloat16
run speed-bucketed "${speed[@]}" --set train.frozen_dtype=bfloat16 --set train.pad_to_multiple_of=64
run speed-graphs "${speed[@]}" ${fast_sets[@]+"${fast_sets[@]}"} --set train.torch_compile_mode=reduce-overhead
run repro "${whole[@]}"
run pipeline python -m benchmarks.pipeline --model "$model"
run throughput python -m benchmarks.throughput --model "$model" --train-batch-size 8 64 --compile \
    --gen-batch-size 64 256
run pipeline-compiled python -m benchmarks.pipeline --model "$model" --set train.torch_compile=true
run methods python -m benchmarks.methods --model "$model" --batch-size 8 --steps 20 --warmup-steps 3
if compgen -G "$out/speed-*.json" > /dev/null || compgen -G "$out/losses-*.json" > /dev/null \
    || compgen -G "$out/repro*.json" > /dev/null; then
    python -m benchmarks.speed_report "$out" || failed=1
fi
exit $failed
