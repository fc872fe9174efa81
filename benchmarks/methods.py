"""What each fine-tuning method costs to train: LoRA, IA3 and full fine-tuning of one model, in
one plain training loop, on the same batches of DialogSum-shaped token ids; with --checkpointing,
each block's activations recomputed in the backward pass (train.activation_checkpointing).

    python benchmarks/methods.py [--model flan-t5-small|-base|-large|-xl|qwen2.5-0.5b|qwen2.5-1.5b|tiny]
        [--methods lora,ia3,full] [--checkpointing] [--device auto|cpu|cuda] [--batch-size N]
        [--steps N] [--warmup-steps N] [--threads N] [--json FILE]     # or: python -m benchmarks.methods ...

Each method trains in a process of its own, so that its peak memory is its own (on a GPU, what
torch allocated; on a CPU, the process's resident set): the model, its gradients, the optimiser's
state and the activations. The method's settings are params.yaml's (`lora`, `ia3`, and for
`full` its learning rate), the loop is the one benchmarks/throughput.py times (forward, backward,
clipping, fused AdamW; bf16 autocast on a GPU that has it), and the batches are length-grouped
as the Trainer's, sampled from one epoch with params.yaml's seed, the same for every method.
It prints, per method, the trainable parameters, the median seconds per timed step, samples/s,
the peak memory and what training added to the memory held once the model was built, and its
time over the same timed steps and its peak against LoRA's; --json FILE writes the same figures
and the machine. `--model flan-t5-base` is
flan-t5-base's architecture (benchmarks/flan-t5-base.json; the other sizes change its dimensions,
benchmarks/synthetic.py) with random weights: nothing is downloaded. The qwen2.5 sizes are decoder-only (each
prompt and its summary one sequence, the loss on the summary), with peft's default layers for the methods.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from benchmarks.machine import choose_device, machine
from benchmarks.params import Reads
from benchmarks.synthetic import (
    DECODER_ONLY_SIZES,
    FLAN_T5_SIZES,
    SOURCE_TOKENS_MEAN,
    SOURCE_TOKENS_P95,
    TARGET_TOKENS_MEAN,
    TARGET_TOKENS_P95,
    TRAINING_DIALOGUES,
    lognormal_lengths,
    random_sequences,
)
from benchmarks.throughput import benchmark_base
from benchmarks.training_speed import epoch_batches, stack_parameters, time_training
from dialogsum_lora.commands.arguments import ArgumentParser
from dialogsum_lora.errors import UserError, run_main
from dialogsum_lora.files import read_json, write_json
from dialogsum_lora.modeling.adapter import method_settings, parameter_counts, training_params
from dialogsum_lora.modeling.base import is_decoder_only, make_deterministic, pick_dtype
from dialogsum_lora.params import METHODS, load_params
from dialogsum_lora.paths import PARAMS_FILE, REPO_ROOT
from dialogsum_lora.training.trainer import peak_memory, trainable_model

REFERENCE = "lora"  # each method's figures are also given against this one's


def parse_arguments() -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["tiny", *FLAN_T5_SIZES, *DECODER_ONLY_SIZES], default="flan-t5-base")
    parser.add_argument("--methods", type=lambda text: text.split(","), default=list(METHODS), help="lora,ia3,full")
    parser.add_argument("--checkpointing", action="store_true", help="recompute activations (non-reentrant)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per method")
    parser.add_argument(
        "--warmup-steps", type=int, default=1, help="untimed steps first (the optimiser's state is made)"
    )
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: every core on a CPU)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every figure to FILE")
    parser.add_argument("--only", choices=METHODS, help=argparse.SUPPRESS)  # one method, in its own process
    args = parser.parse_args()
    if set(args.methods) - set(METHODS) or not args.methods:
        parser.error(f"--methods takes some of {','.join(METHODS)}, got {','.join(args.methods)}")
    for name in ("batch_size", "steps", "warmup_steps", "threads"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "warmup_steps" else 1):
            parser.error(f"--{name.replace('_', '-')} must be positive, got {value}")
    return args


def resident_mib() -> float:
    """This process's resident memory now (Linux: /proc/self/statm counts pages)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def held_mib(device: torch.device) -> float:
    return torch.cuda.memory_allocated(device) / 2**20 if device.type == "cuda" else resident_mib()


def train_one(args: argparse.Namespace, method: str) -> dict:
    """Build the model, make `method`'s weights trainable and time the loop: this process's figures."""
    device = choose_device(args.device)
    params = load_params(Reads, REPO_ROOT / PARAMS_FILE).model_copy(update={"method": method})
    make_deterministic(params.seed)  # as the stages run
    with tempfile.TemporaryDirectory(prefix="methods-") as scratch:
        base, id_limit, pad_id, eos_id = benchmark_base(args.model, device, Path(scratch))
    decoder_only = is_decoder_only(base)
    settings = method_settings(params)
    if decoder_only and method != "full":  # params.yaml's layers are T5's: peft's defaults (LoRA: q_proj, v_proj)
        keys = ["target_modules"] + (["feedforward_modules"] if method == "ia3" else [])
        settings = settings.model_copy(update=dict.fromkeys(keys))
    model = trainable_model(base, method, settings).train()
    if args.checkpointing:  # as the Trainer does for train.activation_checkpointing (non-reentrant by default)
        model.activation_checkpointing_enable()
    counts = parameter_counts(model)
    encoder, decoder = stack_parameters(model)
    # FLOPs a token: 2 N forward and 2 N for the activations' gradients; 2 N more for the weights'
    # gradients when every weight trains (an adapter's are few), N the matmul parameters.
    per_parameter = 6 if method == "full" else 4
    rng = np.random.default_rng(params.seed)
    sources = lognormal_lengths(
        rng, TRAINING_DIALOGUES, SOURCE_TOKENS_MEAN, SOURCE_TOKENS_P95, params.prompt.max_source_tokens
    )
    targets = lognormal_lengths(
        rng, TRAINING_DIALOGUES, TARGET_TOKENS_MEAN, TARGET_TOKENS_P95, params.prompt.max_target_tokens
    )
    examples = (random_sequences(rng, sources, id_limit, eos_id), random_sequences(rng, targets, id_limit, eos_id))
    batches = epoch_batches(list(sources), args.batch_size, True, params.seed)
    batches = random.Random(params.seed).sample(batches, args.warmup_steps + args.steps)
    autocast = pick_dtype(device) if pick_dtype(device) != torch.float32 else None
    before = held_mib(device)
    result = time_training(
        model,
        examples,
        batches,
        warmup_steps=args.warmup_steps,
        autocast_dtype=autocast,
        learning_rate=training_params(params).learning_rate,
        flops_per_token=(per_parameter * encoder, per_parameter * decoder),
        pad_id=pad_id,
        device=device,
        each_step=True,
        decoder_only=decoder_only,
    )
    peak = peak_memory()
    return {
        "method": method,
        "activation_checkpointing": model.is_activation_checkpointing,
        "parameters": counts,
        "learning_rate": training_params(params).learning_rate,
        "median_step_seconds": statistics.median(result["step_seconds"]),
        **result,
        "memory_before_training_mib": round(before, 1),
        **peak,
        "training_added_mib": round(peak["peak_memory_mib"] - before, 1),
        "dtype": str(autocast or torch.float32).removeprefix("torch."),
    }


def one_method_line(result: dict, reference: dict) -> str:
    counts = result["parameters"]
    return (
        f"  {result['method']:<5} {counts['trainable']:>12,} ({counts['trainable'] / counts['total']:7.3%})"
        f"  {result['median_step_seconds']:8.3f} s/step  {result['samples_per_s']:8.2f} samples/s"
        f"  peak {result['peak_memory_mib']:9,.0f} MiB (training added {result['training_added_mib']:8,.0f})"
        f"  x{result['seconds'] / reference['seconds']:.2f} time (the same batches),"
        f" x{result['peak_memory_mib'] / reference['peak_memory_mib']:.2f} peak"
    )


def compare_methods() -> None:
    args = parse_arguments()
    if args.threads or choose_device(args.device).type == "cpu":
        torch.set_num_threads(args.threads or os.cpu_count() or 1)
    if args.only:
        if args.json is None:
            raise UserError("--only needs --json FILE: it is the process one method trains in")
        write_json(args.json, train_one(args, args.only))
        return
    load_before = os.getloadavg()[0]
    device = choose_device(args.device)
    forwarded = [
        "--model",
        args.model,
        "--device",
        args.device,
        "--batch-size",
        str(args.batch_size),
        "--steps",
        str(args.steps),
        "--warmup-steps",
        str(args.warmup_steps),
        "--threads",
        str(torch.get_num_threads()),
        *(["--checkpointing"] if args.checkpointing else []),
    ]
    print(
        f"model {args.model}, batch {args.batch_size}, {args.warmup_steps} untimed then {args.steps} timed steps "
        f"per method, {torch.get_num_threads()} torch threads, activation checkpointing "
        f"{'on' if args.checkpointing else 'off'}, load {load_before:.1f} before the run"
    )
    results = {}
    with tempfile.TemporaryDirectory(prefix="methods-") as scratch:
        for method in args.methods:
            figures = Path(scratch) / f"{method}.json"
            run = subprocess.run(
                [sys.executable, "-m", "benchmarks.methods", *forwarded, "--only", method, "--json", str(figures)],
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
            )
            if run.returncode != 0:
                raise UserError(
                    f"method {method} failed (exit code {run.returncode}): "
                    f"{(run.stderr.strip().splitlines() or ['no output'])[-1]}"
                )
            results[method] = read_json(figures)
    reference = results.get(REFERENCE) or results[args.methods[0]]
    for method in args.methods:
        print(one_method_line(results[method], reference))
    print(f"  peak memory: {reference['peak_memory_of']}")
    if args.json:
        write_json(
            args.json,
            {
                "machine": machine(device, load_before),
                "settings": {
                    "model": args.model,
                    "batch_size": args.batch_size,
                    "steps": args.steps,
                    "warmup_steps": args.warmup_steps,
                    "checkpointing": args.checkpointing,
                },
                "methods": results,
            },
        )
        print(f"wrote {args.json}")


def main() -> None:
    run_main(compare_methods)


if __name__ == "__main__":
    main()
