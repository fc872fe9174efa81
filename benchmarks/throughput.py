"""Training and generation throughput: the tutorial's settings against this project's.

    python benchmarks/throughput.py [--model tiny|flan-t5-base] [--device auto|cpu|cuda]
        [--train-batch-size 8 [64 ...]] [--steps N] [--warmup-steps N] [--compile] [--examples N]
        [--dialogues N] [--dialogues-one-at-a-time N] [--max-new-tokens N] [--gen-batch-size N [N ...]]
        [--threads N] [--json FILE]                 # or: python -m benchmarks.throughput ...

One model with the LoRA adapter params.yaml describes, random token ids with
DialogSum's lengths, one process, deterministic kernels as the stages use:

  training    (a) the tutorial's: fp32, batch 8, random order, padded per batch, a plain loop;
              (b) the project's, at each --train-batch-size: bf16 autocast on a GPU that has it,
                  length-grouped batches, first in a plain loop, then through the finetune stage's
                  own Trainer (and, with --compile, with train.torch_compile on)
  generation  (a) one dialogue at a time; (b) length-sorted batches of each --gen-batch-size;
              both through the stages' generation loop, with the adapter merged as evaluate does

It prints samples/s and tokens/s (padding not counted), dialogues/s, each
ratio (b)/(a) and, on a GPU, the training MFU; --json FILE writes the same
figures and the machine. `--model flan-t5-base` is flan-t5-base's architecture
(benchmarks/flan-t5-base.json) with random weights: nothing is downloaded.
"""

import argparse
import copy
import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch

from benchmarks.generation_speed import TokenIdTokenizer, time_generation
from benchmarks.machine import bf16_peak_flops, choose_device, machine
from benchmarks.params import Reads
from benchmarks.synthetic import (
    DECODER_ONLY_SIZES,
    QWEN_END,
    SOURCE_TOKENS_MEAN,
    SOURCE_TOKENS_P95,
    TARGET_TOKENS_MEAN,
    TARGET_TOKENS_P95,
    TRAINING_DIALOGUES,
    lognormal_lengths,
    random_decoder_only,
    random_flan_t5,
    random_sequences,
)
from benchmarks.training_speed import epoch_batches, stack_parameters, time_stage_trainer, time_training
from dialogsum_lora.commands.arguments import ArgumentParser
from dialogsum_lora.errors import run_main
from dialogsum_lora.files import write_json
from dialogsum_lora.modeling.base import load_base_model, load_tokenizer, make_deterministic, pick_dtype
from dialogsum_lora.modeling.tiny import write_tiny_model
from dialogsum_lora.params import load_params
from dialogsum_lora.paths import PARAMS_FILE, REPO_ROOT
from dialogsum_lora.training.trainer import trainable_model

TUTORIAL_BATCH_SIZE = 8
FLAN_T5_ID_LIMIT = 32_000  # ids from here on are <extra_id_*> sentinels and padding rows
GPU_ONE_AT_A_TIME_DIALOGUES = 100  # a dialogue's time does not depend on the others


def parse_arguments() -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["tiny", "flan-t5-base"], default="tiny")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--train-batch-size", type=int, nargs="+", default=[8], metavar="N", help="the project's (b)")
    parser.add_argument("--steps", type=int, help="timed training steps per setting (default 10 on CPU, 30 on GPU)")
    parser.add_argument("--warmup-steps", type=int, default=3, help="untimed plain-loop steps before each timing")
    parser.add_argument(
        "--compile", action="store_true", help="also time the stage's Trainer with train.torch_compile on"
    )
    parser.add_argument(
        "--examples",
        type=int,
        default=TRAINING_DIALOGUES,
        help="training examples (an epoch; the Trainer sorts blocks of up to 50 batches by length)",
    )
    parser.add_argument("--dialogues", type=int, help="dialogues generated in batches (default 32 on CPU, 500 on GPU)")
    parser.add_argument(
        "--dialogues-one-at-a-time",
        type=int,
        help=f"of those, how many one at a time (default: all on CPU, {GPU_ONE_AT_A_TIME_DIALOGUES} on GPU)",
    )
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--gen-batch-size", type=int, nargs="+", default=[64], metavar="N", help="generation batches")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: 1 on CPU, torch's with a GPU)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every figure to FILE")
    args = parser.parse_args()
    for name in (
        "train_batch_size",
        "steps",
        "warmup_steps",
        "examples",
        "dialogues",
        "dialogues_one_at_a_time",
        "max_new_tokens",
        "gen_batch_size",
        "threads",
    ):
        for value in getattr(args, name) if isinstance(getattr(args, name), list) else [getattr(args, name)]:
            if value is not None and value < (0 if name == "warmup_steps" else 1):
                parser.error(f"--{name.replace('_', '-')} must be positive, got {value}")
    return args


def benchmark_base(name: str, device: torch.device, scratch: Path):
    """(the base model in fp32, its id limit, pad id, eos id): the tiny T5 (written to `scratch`), or
    a flan-t5 size's or a Qwen2.5 size's architecture (flan-t5-base's by default) with random weights."""
    if name == "tiny":
        write_tiny_model(scratch / "tiny-t5")
        tokenizer = load_tokenizer(scratch / "tiny-t5")
        base = load_base_model(scratch / "tiny-t5", torch.float32, device)
        return base, len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id
    if name in DECODER_ONLY_SIZES:  # no padding token: padding is masked, any id does
        return random_decoder_only(name).to(device), QWEN_END, 0, QWEN_END
    base = random_flan_t5(name).to(device)
    return base, FLAN_T5_ID_LIMIT, base.config.pad_token_id, base.config.eos_token_id


def build_models(name: str, params: "Reads", device: torch.device, scratch: Path):
    """(training model, generation model, id limit, pad id, eos id), both from the same base weights with
    LoRA: the training model in fp32 (the Trainer autocasts), the generation model in the stages' dtype
    with the adapter merged, as evaluate generates."""
    base, *ids = benchmark_base(name, device, scratch)
    generation_base = copy.deepcopy(base).to(pick_dtype(device)).eval()
    training_model = trainable_model(base, "lora", params.lora).train()
    generation_model = trainable_model(generation_base, "lora", params.lora).eval().merge_and_unload()
    return training_model, generation_model, *ids


def time_trainings(model, params: "Reads", examples, args, steps: int, device: torch.device, peak) -> dict:
    """(a) the tutorial's plain loop; (b) the project's plain loop and the stage's Trainer, at each batch size."""
    source_lengths = [len(source) for source in examples[0]]
    encoder, decoder = stack_parameters(model)
    # ~4 N FLOPs a token (2 N forward, 2 N backward for the activation gradients: frozen weights
    # need no weight gradients), N the parameters that do matmuls per source or target token.
    flops_per_token = (4 * encoder, 4 * decoder)
    autocast = pick_dtype(device) if pick_dtype(device) != torch.float32 else None

    def plain_loop(batch_size: int, group_by_length: bool, dtype) -> dict:
        batches = epoch_batches(source_lengths, batch_size, group_by_length, params.seed)
        batches = random.Random(params.seed).sample(batches, args.warmup_steps + steps)  # a fair sample of an epoch
        result = time_training(
            model,
            examples,
            batches,
            warmup_steps=args.warmup_steps,
            autocast_dtype=dtype,
            learning_rate=params.train.learning_rate,
            flops_per_token=flops_per_token,
            pad_id=model.config.pad_token_id,
            device=device,
        )
        return {
            **result,
            "length_grouped": group_by_length,
            "dtype": str(dtype or torch.float32).removeprefix("torch."),
        }

    tutorial = plain_loop(TUTORIAL_BATCH_SIZE, group_by_length=False, dtype=None)
    training = {"tutorial": tutorial, "project": [], "stage_trainer": []}
    stage_examples = [
        {"input_ids": s.tolist(), "attention_mask": [1] * len(s), "labels": t.tolist()} for s, t in zip(*examples)
    ]
    for batch_size in args.train_batch_size:
        training["project"].append(plain_loop(batch_size, group_by_length=True, dtype=autocast))
        for compile in [False, True] if args.compile else [False]:
            training["stage_trainer"].append(
                time_stage_trainer(
                    model,
                    params,
                    stage_examples,
                    batch_size,
                    compile=compile,
                    steps=steps,
                    flops_per_token=flops_per_token,
                    device=device,
                )
            )
    for result in training["project"] + training["stage_trainer"]:
        result["vs_tutorial"] = {key: result[key] / tutorial[key] for key in ("samples_per_s", "tokens_per_s")}
    for result in [tutorial, *training["project"], *training["stage_trainer"]]:
        result["mfu"] = result["model_flops_per_s"] / peak if peak else None
    return training


def time_generations(model, prompts, args, one_at_a_time: int, ids, device: torch.device) -> dict:
    """(a) one dialogue at a time; (b) length-sorted batches of each --gen-batch-size."""
    tokenizer = TokenIdTokenizer(*ids)
    settings = dict(max_new_tokens=args.max_new_tokens, device=device)
    time_generation(model, tokenizer, prompts[:2], batch_size=2, **settings)  # warm-up: first kernels, allocator
    single = time_generation(model, tokenizer, prompts[:one_at_a_time], batch_size=1, **settings)
    batched = [time_generation(model, tokenizer, prompts, batch_size=size, **settings) for size in args.gen_batch_size]
    for result in batched:
        result["vs_one_at_a_time"] = {"dialogues_per_s": result["dialogues_per_s"] / single["dialogues_per_s"]}
    return {"one_at_a_time": single, "batched": batched}


def training_line(label: str, result: dict) -> str:
    mfu = f"MFU {result['mfu']:5.1%}" if result.get("mfu") is not None else ""
    ratio = "".join(f" x{value:.2f} {key}" for key, value in result.get("vs_tutorial", {}).items())
    return (
        f"  {label:<44} batch {result['batch_size']:>3} {result['samples_per_s']:9.2f} samples/s "
        f"{result['tokens_per_s']:10.0f} tokens/s {mfu}{ratio}"
    )


def generation_line(label: str, result: dict) -> str:
    ratio = f"  x{result['vs_one_at_a_time']['dialogues_per_s']:.2f}" if "vs_one_at_a_time" in result else ""
    return (
        f"  {label:<44} batch {result['batch_size']:>3} {result['dialogues_per_s']:9.2f} dialogues/s "
        f"({result['dialogues']} dialogues, {result['mean_new_tokens']:.1f} new tokens each){ratio}"
    )


def throughput() -> None:
    args = parse_arguments()
    load_before = os.getloadavg()[0]  # before this process adds its own
    device = choose_device(args.device)
    on_gpu = device.type == "cuda"
    # On a CPU, threads that spin-wait for each other slow down many times over when another
    # process holds a core: one thread is steady on a shared machine.
    if args.threads or not on_gpu:
        torch.set_num_threads(args.threads or 1)
    steps, dialogues = args.steps or (30 if on_gpu else 10), args.dialogues or (500 if on_gpu else 32)
    one_at_a_time = min(
        dialogues, args.dialogues_one_at_a_time or (GPU_ONE_AT_A_TIME_DIALOGUES if on_gpu else dialogues)
    )
    params = load_params(Reads, REPO_ROOT / PARAMS_FILE)
    make_deterministic(params.seed)  # as the stages run
    peak = bf16_peak_flops(device)

    scratch = tempfile.TemporaryDirectory(prefix="throughput-")  # the tiny model, while the Trainer saves
    training_model, generation_model, *ids = build_models(args.model, params, device, Path(scratch.name))
    rng = np.random.default_rng(params.seed)
    max_source, max_target = params.prompt.max_source_tokens, params.prompt.max_target_tokens
    sources = lognormal_lengths(rng, args.examples, SOURCE_TOKENS_MEAN, SOURCE_TOKENS_P95, max_source)
    targets = lognormal_lengths(rng, args.examples, TARGET_TOKENS_MEAN, TARGET_TOKENS_P95, max_target)
    id_limit, eos_id = ids[0], ids[2]
    examples = (random_sequences(rng, sources, id_limit, eos_id), random_sequences(rng, targets, id_limit, eos_id))
    prompts = random_sequences(
        rng, lognormal_lengths(rng, dialogues, SOURCE_TOKENS_MEAN, SOURCE_TOKENS_P95, max_source), id_limit, eos_id
    )
    described = machine(device, load_before)
    print(
        f"machine: {described['device_name']}, torch {torch.__version__}, {torch.get_num_threads()} torch threads, "
        f"load {load_before:.1f} before the run; model {args.model}, LoRA r={params.lora.r} on "
        f"{', '.join(params.lora.target_modules)}; {args.examples} training examples of random ids"
    )

    print(f"\ntraining: {steps} timed steps per setting")
    training = time_trainings(training_model, params, examples, args, steps, device, peak)
    print(training_line("(a) tutorial: fp32, random order, plain loop", training["tutorial"]))
    for result in training["project"]:
        print(training_line("(b) project: length-grouped, plain loop", result))
    for result in training["stage_trainer"]:
        print(
            training_line("(b) the finetune stage's Trainer" + (", compiled" if result["compiled"] else ""), result)
            + f"  ({result['steps']} steps after {result['warmup_steps']}, {result['warmup_seconds']:.0f} s)"
        )

    print(f"\ngeneration: greedy, at most {args.max_new_tokens} new tokens, adapter merged")
    generation = time_generations(generation_model, prompts, args, one_at_a_time, (ids[1], eos_id), device)
    print(generation_line("(a) one dialogue at a time", generation["one_at_a_time"]))
    for result in generation["batched"]:
        print(generation_line("(b) project: length-sorted batches", result))
    if args.json:
        settings = {
            "model": args.model,
            "examples": args.examples,
            "steps": steps,
            "dialogues": dialogues,
            "one_at_a_time": one_at_a_time,
            "max_new_tokens": args.max_new_tokens,
            "bf16_peak_flops": peak,
        }
        write_json(
            args.json, {"machine": described, "settings": settings, "training": training, "generation": generation}
        )
        print(f"\nwrote {args.json}")
    scratch.cleanup()


def main() -> None:
    run_main(throughput)


if __name__ == "__main__":
    main()
