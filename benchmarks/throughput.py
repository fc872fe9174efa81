"""Training and generation throughput: tutorial settings against this project's.

    HF_HUB_OFFLINE=1 python -m benchmarks.throughput [--model tiny|flan-t5-base] [--device auto|cpu|cuda]
        [--train-batch-size 8 [32 64 ...]] [--steps N] [--dialogues N] [--max-new-tokens N]
        [--gen-batch-size N [N ...]] [--json FILE] [--compile] [--compile-loop] [--attn] [--merge] [--deterministic] [--threads N]

One model, one set of synthetic examples, one process:

  training    (a) tutorial: fp32, batch 8, random order, padded per batch
              (b) project, as stages/finetune.py trains: bf16 autocast on a GPU that has it (fp32 on
                  the CPU), length-grouped batches (transformers' LengthGroupedSampler, as the
                  Trainer's group_by_length), padded per batch; at each --train-batch-size, first
                  in a plain loop (--compile-loop: also torch.compile'd), then through the stage's
                  own Trainer (stages.finetune.make_trainer, with its per-step overheads; --compile:
                  also with train.compile on)
  generation  (a) one dialogue at a time
              (b) length-sorted batches of --gen-batch-size (its first value; then any others,
                  with the adapter merged if --merge)
              both through stages.generation.generate_summaries, greedy, with the LoRA model in
              the dtype the baseline/evaluate stages use

It prints samples/s and tokens/s (source + target tokens, padding not counted),
dialogues/s with the mean number of tokens generated, each ratio (b)/(a) and,
on a GPU, the training MFU; --json FILE writes the same figures and the machine.

`--model tiny` is stages.tiny_model's T5. `--model flan-t5-base` is
flan-t5-base's architecture (benchmarks/flan-t5-base.json) with random
weights, so nothing is downloaded. Either way the LoRA adapter is the one
params.yaml describes, added by stages.finetune.add_lora, and the token ids are
random: only their lengths follow DialogSum.
"""

import os

# generate_summaries shows a progress bar per call; tqdm reads this when it is imported.
os.environ.setdefault("TQDM_DISABLE", "1")

import argparse
import copy
import dataclasses
import math
import random
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import transformers
import yaml

from benchmarks.common import (
    SOURCE_TOKENS_MEAN,
    SOURCE_TOKENS_P95,
    TARGET_TOKENS_MEAN,
    TARGET_TOKENS_P95,
    TRAINING_DIALOGUES,
    lognormal_lengths,
    machine,
    random_flan_t5_base,
)
from stages.errors import UserError, run_main
from stages.finetune import StepClock, add_lora, length_group_steps, make_trainer
from stages.generation import generate_summaries
from stages.modeling import load_base_model, load_tokenizer, pick_device, pick_dtype
from stages.outputs import write_json
from stages.params import Params, parse_params
from stages.tiny_model import build_tokenizer, write_tiny_model

REPO_ROOT = Path(__file__).resolve().parent.parent
FIRST_ORDINARY_ID = 3  # below: pad, eos, unk
FLAN_T5_ID_LIMIT = 32_000  # ids from here on are <extra_id_*> sentinels and padding rows

TUTORIAL_BATCH_SIZE = 8
MAX_GRAD_NORM = 1.0  # the Trainer's default, so stages/finetune.py clips at 1.0 too
COMPILE_WARMUP_STEPS = 5  # the first compiled steps compile (tens of seconds); never timed
GPU_ONE_AT_A_TIME_DIALOGUES = 100

# Dense bf16 tensor-core peaks (no sparsity), matched against torch.cuda.get_device_name().
BF16_PEAK_FLOPS = [
    (r"H200", 989e12),
    (r"H100.*PCIe", 756e12),
    (r"H100.*(SXM|HBM3)", 989e12),  # the SXM part reports itself as "NVIDIA H100 80GB HBM3"
    (r"A100", 312e12),
    (r"\bL4\b", 121e12),  # not L40 / L40S
]


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["tiny", "flan-t5-base"], default="tiny")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--train-batch-size", type=int, nargs="+", default=[8], metavar="N",
                        help="batch sizes for the project's training settings (b); default 8")
    parser.add_argument("--steps", type=int, help="timed training steps per setting (default 10 on CPU, 30 on GPU)")
    parser.add_argument("--warmup-steps", type=int, default=3, help="untimed training steps before each timing")
    parser.add_argument("--dialogues", type=int, help="dialogues generated in batches (default 32 on CPU, 500 on GPU)")
    parser.add_argument("--dialogues-one-at-a-time", type=int,
                        help=f"of those, how many to generate one at a time (default: all on CPU, "
                             f"{GPU_ONE_AT_A_TIME_DIALOGUES} on GPU: a dialogue's time does not depend on the others)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--gen-batch-size", type=int, nargs="+", default=[64], metavar="N",
                        help="generation batch size (the first; default 64, as generate.batch_size), and others "
                             "to time too, with the adapter merged if --merge")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every figure to FILE")
    parser.add_argument("--compile", action="store_true",
                        help="also time the stage's Trainer with train.compile on, at each batch size")
    parser.add_argument("--compile-loop", action="store_true",
                        help="also time the plain loop torch.compile'd, at each batch size (a compile each: slow)")
    parser.add_argument("--attn", action="store_true",
                        help="also time the other attention implementation (sdpa) than the stages' (eager)")
    parser.add_argument("--merge", action="store_true",
                        help="also time batched generation with the LoRA adapter merged into the weights")
    parser.add_argument("--deterministic", action="store_true",
                        help="use torch's deterministic kernels throughout, to measure what they cost")
    parser.add_argument("--threads", type=int,
                        help="CPU threads for torch (default: 1 on CPU, torch's choice with a GPU)")
    args = parser.parse_args()
    for name in ("threads", "train_batch_size", "steps", "warmup_steps", "dialogues", "dialogues_one_at_a_time",
                 "max_new_tokens", "gen_batch_size"):
        values = getattr(args, name)
        for value in values if isinstance(values, list) else [values]:
            if value is not None and value < (0 if name == "warmup_steps" else 1):
                parser.error(f"--{name.replace('_', '-')} must be positive, got {value}")
    return args


def choose_device(requested: str) -> torch.device:
    if requested == "auto":
        return pick_device()
    if requested == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: torch sees no CUDA GPU (is this the CPU build of torch?)")
    return torch.device(requested)


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a timer measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --- Data: random token ids with DialogSum's lengths -------------------------------------------


def random_sequences(rng: np.random.Generator, lengths, id_limit: int, eos_id: int) -> list[np.ndarray]:
    """One sequence of random ordinary ids per length, each ending in eos as a tokenizer's output does."""
    sequences = []
    for length in lengths:
        ids = rng.integers(FIRST_ORDINARY_ID, id_limit, size=int(length))
        ids[-1] = eos_id
        sequences.append(ids)
    return sequences


def length_summary(lengths) -> str:
    return f"mean {np.mean(lengths):.0f}, p95 {np.percentile(lengths, 95):.0f}, max {np.max(lengths)}"


# --- Models ------------------------------------------------------------------------------------


def project_params(model_label: str) -> Params:
    """params.yaml as committed (the real experiment's LoRA and token limits), naming this model."""
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
    raw["model"]["name"] = model_label
    return parse_params(raw)


def build_models(name: str, params: Params, device: torch.device, scratch: Path):
    """(training model, generation model, id limit, pad id, eos id), both models with LoRA.

    The training model keeps fp32 master weights (the Trainer autocasts); the
    generation model is in pick_dtype(device), as the baseline and evaluate
    stages load it. Both start from the same base weights.
    """
    if name == "tiny":
        model_dir = scratch / "tiny-t5"
        write_tiny_model(model_dir)
        tokenizer = load_tokenizer(model_dir)
        training_base = load_base_model(model_dir, torch.float32, device)
        generation_base = load_base_model(model_dir, pick_dtype(device), device)
        id_limit, pad_id, eos_id = len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id
    else:
        training_base = random_flan_t5_base()
        generation_base = copy.deepcopy(training_base).to(pick_dtype(device))
        training_base, generation_base = training_base.to(device), generation_base.to(device)
        config = training_base.config
        id_limit, pad_id, eos_id = FLAN_T5_ID_LIMIT, config.pad_token_id, config.eos_token_id
    training_model = add_lora(training_base, params).train()
    generation_model = add_lora(generation_base, params).eval()
    return training_model, generation_model, id_limit, pad_id, eos_id


def stack_parameters(model) -> tuple[int, int]:
    """Parameters that do matmuls per source token (encoder) and per target token (decoder + lm_head).

    The embedding tables are left out: a lookup does no multiplications.
    """
    base = model.get_base_model()
    embedding_ids = {id(base.shared.weight)}

    def count(module) -> int:
        return sum(p.numel() for p in module.parameters() if id(p) not in embedding_ids)

    return count(base.encoder), count(base.decoder) + count(base.lm_head)


def set_attention(model, implementation: str) -> None:
    model.get_base_model().set_attn_implementation(implementation)


# --- Training ----------------------------------------------------------------------------------


def epoch_batches(source_lengths: list[int], batch_size: int, group_by_length: bool, seed: int) -> list[list[int]]:
    """One epoch's full batches of example indices, in random order or grouped by source length.

    Grouping is the Trainer's (group_by_length / LengthGroupedSampler): shuffle,
    cut into mega-batches of 50 batches, sort each by input length.
    """
    from transformers.trainer_pt_utils import LengthGroupedSampler

    generator = torch.Generator().manual_seed(seed)
    if group_by_length:
        order = list(LengthGroupedSampler(batch_size, lengths=source_lengths, generator=generator))
    else:
        order = torch.randperm(len(source_lengths), generator=generator).tolist()
    return [order[start : start + batch_size] for start in range(0, len(order) - batch_size + 1, batch_size)]


def collate(sources: list[np.ndarray], targets: list[np.ndarray], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad to the batch's longest source and target, as DataCollatorForSeq2Seq does.

    Labels pad with -100 so padding adds no loss; T5 builds decoder_input_ids
    from the labels itself.
    """
    input_ids = torch.full((len(sources), max(map(len, sources))), pad_id, dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    labels = torch.full((len(targets), max(map(len, targets))), -100, dtype=torch.long)
    for row, (source, target) in enumerate(zip(sources, targets)):
        input_ids[row, : len(source)] = torch.from_numpy(source)
        attention_mask[row, : len(source)] = 1
        labels[row, : len(target)] = torch.from_numpy(target)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def time_training(model, forward, examples, batches, *, warmup_steps, autocast_dtype, learning_rate,
                  flops_per_token, pad_id, device) -> dict:
    """Train on `batches` (the first `warmup_steps` untimed) and return the throughput of the rest.

    A plain loop doing what the Trainer does per step: forward, backward, clip,
    fused AdamW (the Trainer's default optimiser in transformers 5), zero grads.
    """
    sources, targets = examples
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate, fused=True)

    def train_step(indices: list[int]) -> None:
        batch = collate([sources[i] for i in indices], [targets[i] for i in indices], pad_id)
        batch = {key: value.to(device, non_blocking=True) for key, value in batch.items()}
        with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
            loss = forward(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, MAX_GRAD_NORM)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    warmup, timed = batches[:warmup_steps], batches[warmup_steps:]
    synchronize(device)
    warmup_start = time.perf_counter()
    for indices in warmup:
        train_step(indices)
    synchronize(device)
    start = time.perf_counter()
    for indices in timed:
        train_step(indices)
    synchronize(device)
    seconds = time.perf_counter() - start

    samples = sum(len(indices) for indices in timed)
    source_tokens = sum(len(sources[i]) for indices in timed for i in indices)
    target_tokens = sum(len(targets[i]) for indices in timed for i in indices)
    padded_tokens = sum(
        len(indices) * (max(len(sources[i]) for i in indices) + max(len(targets[i]) for i in indices))
        for indices in timed
    )
    flops = flops_per_token[0] * source_tokens + flops_per_token[1] * target_tokens
    return {
        "batch_size": len(timed[0]),
        "steps": len(timed),
        "seconds": seconds,
        "warmup_seconds": start - warmup_start,
        "samples_per_s": samples / seconds,
        "tokens_per_s": (source_tokens + target_tokens) / seconds,
        "mean_source_tokens": source_tokens / samples,
        "mean_target_tokens": target_tokens / samples,
        "padding_fraction": 1 - (source_tokens + target_tokens) / padded_tokens,
        "model_flops_per_s": flops / seconds,
    }


def time_stage_trainer(model, params: Params, train_set: list[dict], batch_size: int, *, compile: bool, steps: int,
                       flops_per_token, device) -> dict:
    """Train through stages.finetune.make_trainer (the stage's own Seq2SeqTrainer, arguments and
    collator) on `train_set` (finetune's example dicts), and return its steady throughput.

    The Trainer sorts each block of up to 50 batches longest first
    (stages.finetune.length_group_steps). Warming up for one whole block (compiling
    included) and timing whole blocks makes the timed steps a fair sample of the
    epoch; part of a block would lean to its long or its short batches.
    """
    block = length_group_steps(len(train_set), batch_size)
    timed_steps = block * math.ceil(steps / block)
    if block + timed_steps > len(train_set) // batch_size:
        raise UserError(f"batch {batch_size}: an epoch has only {len(train_set) // batch_size} steps, fewer than "
                        f"{block} warm-up + {timed_steps} timed steps")
    train = dataclasses.replace(params.train, batch_size=batch_size, max_steps=block + timed_steps, compile=compile)
    clock = StepClock(block_steps=block)
    # Any tokenizer with pad id 0 pads as flan-t5's would; the tiny one needs no download.
    tokenizer = build_tokenizer()
    # A copy: the Trainer wraps the model it trains (accelerate's autocast on a GPU), and the
    # other settings must time the model as it was.
    model = copy.deepcopy(model)
    with tempfile.TemporaryDirectory() as output_dir:
        trainer = make_trainer(model, tokenizer, dataclasses.replace(params, train=train), pick_dtype(device),
                               train_set, train_set[:batch_size], Path(output_dir), [clock])
        start = time.perf_counter()
        trainer.train()
    del trainer, model
    steps_per_second = clock.steady_steps_per_second()
    samples_per_s = steps_per_second * batch_size
    source_tokens = float(np.mean([len(example["input_ids"]) for example in train_set]))
    target_tokens = float(np.mean([len(example["labels"]) for example in train_set]))
    flops_per_sample = flops_per_token[0] * source_tokens + flops_per_token[1] * target_tokens
    return {
        "batch_size": batch_size,
        "steps": clock.timed_steps(),
        "warmup_steps": block,
        "warmup_seconds": clock.times[block - 1] - start,
        "compiled": compile,
        "samples_per_s": samples_per_s,
        "tokens_per_s": samples_per_s * (source_tokens + target_tokens),
        "model_flops_per_s": samples_per_s * flops_per_sample,
    }


# --- Generation --------------------------------------------------------------------------------


class TokenIdTokenizer:
    """Stands in for the tokenizer in generate_summaries, which gets token ids drawn at random.

    flan-t5-base has no tokenizer offline, and drawn ids keep the lengths exact,
    so both models go through the project's own generation loop (length sorting,
    batching, padding, model.generate) unchanged. It records how many tokens
    each output has (up to and including eos) instead of decoding text.
    """

    def __init__(self, pad_id: int, eos_id: int):
        self.pad_id, self.eos_id = pad_id, eos_id
        self.generated_lengths: list[int] = []

    def pad(self, features, return_tensors: str):
        from transformers import BatchEncoding

        sequences = features["input_ids"]
        input_ids = torch.full((len(sequences), max(map(len, sequences))), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros_like(input_ids)
        for row, sequence in enumerate(sequences):
            input_ids[row, : len(sequence)] = torch.tensor(sequence)
            attention_mask[row, : len(sequence)] = 1
        return BatchEncoding({"input_ids": input_ids, "attention_mask": attention_mask})

    def batch_decode(self, output: torch.Tensor, skip_special_tokens: bool) -> list[str]:
        for row in output[:, 1:].tolist():  # column 0 is the decoder start token
            self.generated_lengths.append(row.index(self.eos_id) + 1 if self.eos_id in row else len(row))
        return [""] * len(output)


def time_generation(model, tokenizer: TokenIdTokenizer, prompts, *, batch_size, max_new_tokens, device) -> dict:
    tokenizer.generated_lengths.clear()
    synchronize(device)
    start = time.perf_counter()
    # The drawn lengths are already cut to prompt.max_source_tokens.
    generate_summaries(model, tokenizer, [list(prompt) for prompt in prompts], max_new_tokens=max_new_tokens, num_beams=1, batch_size=batch_size)
    synchronize(device)
    seconds = time.perf_counter() - start
    return {
        "batch_size": batch_size,
        "dialogues": len(prompts),
        "seconds": seconds,
        "dialogues_per_s": len(prompts) / seconds,
        "mean_source_tokens": float(np.mean([len(p) for p in prompts])),
        "mean_new_tokens": float(np.mean(tokenizer.generated_lengths)),
    }


# --- Report ------------------------------------------------------------------------------------


def bf16_peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for pattern, peak in BF16_PEAK_FLOPS if re.search(pattern, name)), None)


def training_line(label: str, result: dict, peak: float | None, baseline: dict | None = None) -> str:
    mfu = f"MFU {result['mfu']:5.1%}" if result.get("mfu") is not None else "MFU n/a"
    padding = f"{result['padding_fraction']:4.0%}" if "padding_fraction" in result else " n/a"
    line = (f"  {label:<50} batch {result['batch_size']:>3}  {result['samples_per_s']:9.2f} samples/s "
            f"{result['tokens_per_s']:10.0f} tokens/s  padding {padding}  {mfu}")
    if baseline is not None:
        line += (f"   x{result['samples_per_s'] / baseline['samples_per_s']:.2f} samples/s,"
                 f" x{result['tokens_per_s'] / baseline['tokens_per_s']:.2f} tokens/s")
    return line


def generation_line(label: str, result: dict, baseline: dict | None = None) -> str:
    line = (f"  {label:<50} batch {result['batch_size']:>3}  {result['dialogues_per_s']:9.2f} dialogues/s "
            f"({result['dialogues']} dialogues, mean {result['mean_source_tokens']:.0f} tokens in, "
            f"{result['mean_new_tokens']:.1f} out)")
    if baseline is not None:
        line += f"   x{result['dialogues_per_s'] / baseline['dialogues_per_s']:.2f}"
    return line


def dtype_name(dtype: torch.dtype | None) -> str:
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")


def ratio(result: dict, baseline: dict, *keys: str) -> dict:
    return {key: result[key] / baseline[key] for key in keys}


# --- Main --------------------------------------------------------------------------------------


def main() -> None:
    args = parse_arguments()
    load_before = os.getloadavg()[0]  # before this process adds its own
    transformers.logging.set_verbosity_error()  # the tiny checkpoint's tied-weights notice, once per load
    warnings.filterwarnings("ignore", category=FutureWarning)  # peft calls a deprecated transformers name
    if args.deterministic:
        # Deterministic cuBLAS needs a fixed workspace, set before CUDA starts.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    device = choose_device(args.device)
    on_gpu = device.type == "cuda"
    # On the CPU this is a smoke test of the code paths. Threads that spin-wait for each other
    # slow down many times over when another process holds a core (10x and more on two cores),
    # so by default one thread: slower at best, but steady on a shared machine.
    if args.threads or not on_gpu:
        torch.set_num_threads(args.threads or 1)
    steps = args.steps or (30 if on_gpu else 10)
    dialogues = args.dialogues or (500 if on_gpu else 32)
    default_one_at_a_time = GPU_ONE_AT_A_TIME_DIALOGUES if on_gpu else dialogues
    one_at_a_time = min(dialogues, args.dialogues_one_at_a_time or default_one_at_a_time)
    params = project_params(args.model)
    project_dtype = pick_dtype(device)
    autocast_dtype = project_dtype if project_dtype != torch.float32 else None
    peak = bf16_peak_flops(device)

    torch.manual_seed(params.seed)
    with tempfile.TemporaryDirectory() as scratch:
        training_model, generation_model, id_limit, pad_id, eos_id = build_models(
            args.model, params, device, Path(scratch)
        )
    encoder_parameters, decoder_parameters = stack_parameters(training_model)
    # Training FLOPs per token ~ 4 N: 2 N forward, 2 N backward for the activation gradients
    # (frozen weights need no weight gradients; LoRA's are negligible). N is the encoder's
    # parameters for a source token and the decoder's plus lm_head's for a target token;
    # attention scores and embedding lookups are left out.
    flops_per_token = (4 * encoder_parameters, 4 * decoder_parameters)
    total_parameters = sum(p.numel() for p in training_model.parameters())
    trainable_parameters = sum(p.numel() for p in training_model.parameters() if p.requires_grad)

    rng = np.random.default_rng(params.seed)
    max_source, max_target = params.prompt.max_source_tokens, params.prompt.max_target_tokens
    source_lengths = lognormal_lengths(rng, TRAINING_DIALOGUES, SOURCE_TOKENS_MEAN, SOURCE_TOKENS_P95, max_source)
    target_lengths = lognormal_lengths(rng, TRAINING_DIALOGUES, TARGET_TOKENS_MEAN, TARGET_TOKENS_P95, max_target)
    examples = (random_sequences(rng, source_lengths, id_limit, eos_id),
                random_sequences(rng, target_lengths, id_limit, eos_id))
    prompt_lengths = lognormal_lengths(rng, dialogues, SOURCE_TOKENS_MEAN, SOURCE_TOKENS_P95, max_source)
    prompts = random_sequences(rng, prompt_lengths, id_limit, eos_id)

    print(f"machine: {device.type} ({machine(device, load_before)['device_name']}), {os.cpu_count()} CPUs, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, "
          f"bf16 peak {f'{peak / 1e12:.0f} TFLOP/s' if peak else 'n/a'}")
    if not on_gpu and load_before > 0.5:
        print(f"note: load average {load_before:.1f} before starting: other processes are using the CPUs, "
              "so these figures are noisy")
    print(f"model: {args.model}, {total_parameters / 1e6:.2f}M parameters, {trainable_parameters / 1e6:.3f}M trainable "
          f"(LoRA r={params.lora.r} on {', '.join(params.lora.target_modules)}), "
          f"attention {training_model.config._attn_implementation}")
    print(f"data: {TRAINING_DIALOGUES} training examples of random ids; "
          f"source tokens {length_summary(source_lengths)}; target tokens {length_summary(target_lengths)}")

    # Both settings train on batches drawn at random from a whole epoch's order, so the timed
    # steps are a fair sample of the epoch (LengthGroupedSampler puts the longest batch first).
    def timed_batches(batch_size: int, group_by_length: bool, warmup_steps: int) -> list[list[int]]:
        batches = epoch_batches(source_lengths.tolist(), batch_size, group_by_length, params.seed)
        if warmup_steps + steps > len(batches):
            raise UserError(f"batch {batch_size}: an epoch has only {len(batches)} batches, fewer than "
                            f"{warmup_steps} warm-up + {steps} timed steps")
        return random.Random(params.seed).sample(batches, warmup_steps + steps)

    def train(batch_size: int, group_by_length: bool, dtype, forward=None, warmup_steps=args.warmup_steps) -> dict:
        batches = timed_batches(batch_size, group_by_length, warmup_steps)
        result = time_training(
            training_model, training_model if forward is None else forward, examples, batches,
            warmup_steps=warmup_steps, autocast_dtype=dtype, learning_rate=params.train.learning_rate,
            flops_per_token=flops_per_token, pad_id=pad_id, device=device,
        )
        result["dtype"] = dtype_name(dtype)
        result["length_grouped"] = group_by_length
        result["mfu"] = result["model_flops_per_s"] / peak if peak else None
        return result

    project_label = f"(b) project: {dtype_name(autocast_dtype)}, length-grouped"
    print(f"\ntraining: {steps} timed steps per setting after {args.warmup_steps} warm-up steps"
          + (", deterministic kernels" if args.deterministic else ""))
    tutorial = train(TUTORIAL_BATCH_SIZE, group_by_length=False, dtype=None)
    print(training_line("(a) tutorial: fp32, random order", tutorial, peak))
    project = []
    for batch_size in args.train_batch_size:
        result = train(batch_size, group_by_length=True, dtype=autocast_dtype)
        result["vs_tutorial"] = ratio(result, tutorial, "samples_per_s", "tokens_per_s")
        project.append(result)
        print(training_line(project_label, result, peak, tutorial))
    training = {"tutorial": tutorial, "project": project}

    if args.compile_loop:
        # dynamic=True: every batch has other lengths, and one graph should serve them all.
        compiled_forward = torch.compile(training_model, dynamic=True)
        training["project_compiled"] = []
        for batch_size in args.train_batch_size:
            try:
                result = train(batch_size, group_by_length=True, dtype=autocast_dtype, forward=compiled_forward,
                               warmup_steps=max(args.warmup_steps, COMPILE_WARMUP_STEPS))
            except Exception as error:  # an optional extra: report it and keep the other figures
                failure = f"{type(error).__name__}: {error}"
                training["project_compiled"].append({"batch_size": batch_size, "error": failure})
                print(f"  {project_label}, compiled: batch {batch_size} failed, {failure[:300]}")
                break
            result["vs_tutorial"] = ratio(result, tutorial, "samples_per_s", "tokens_per_s")
            training["project_compiled"].append(result)
            print(training_line(project_label + ", compiled", result, peak, tutorial))

    # The same settings through the stage's own Trainer: its data loading, collator, logging and
    # callbacks per step, and train.compile as the stage would set it.
    trainer_label = "(b) project, the finetune stage's Trainer"
    training["stage_trainer"] = []
    stage_examples = [  # as stages.finetune.tokenize makes them
        {"input_ids": source.tolist(), "attention_mask": [1] * len(source), "labels": target.tolist()}
        for source, target in zip(*examples)
    ]
    for compile in [False, True] if args.compile else [False]:
        for batch_size in args.train_batch_size:
            result = time_stage_trainer(training_model, params, stage_examples, batch_size, compile=compile, steps=steps,
                                        flops_per_token=flops_per_token, device=device)
            result["mfu"] = result["model_flops_per_s"] / peak if peak else None
            result["vs_tutorial"] = ratio(result, tutorial, "samples_per_s", "tokens_per_s")
            training["stage_trainer"].append(result)
            print(training_line(trainer_label + (", compiled" if compile else ""), result, peak, tutorial)
                  + f"   ({result['steps']} steps after {result['warmup_steps']} taking {result['warmup_seconds']:.0f} s)")

    default_attention = training_model.config._attn_implementation  # the stages' ATTENTION
    other_attention = "sdpa" if default_attention == "eager" else "eager"
    if args.attn:
        set_attention(training_model, other_attention)
        result = train(args.train_batch_size[0], group_by_length=True, dtype=autocast_dtype)
        set_attention(training_model, default_attention)
        result["vs_tutorial"] = ratio(result, tutorial, "samples_per_s", "tokens_per_s")
        result[f"{default_attention}_vs_{other_attention}"] = ratio(project[0], result, "samples_per_s", "tokens_per_s")
        training[f"project_{other_attention}_attention"] = result
        print(training_line(f"{project_label}, {other_attention} attention", result, peak, tutorial))

    if peak:
        print("  MFU = 4 x (encoder parameters x source tokens + (decoder + lm_head) parameters x target tokens)"
              f" / time / {peak / 1e12:.0f} TFLOP/s (bf16 dense peak); padding and attention scores not counted")

    tokenizer = TokenIdTokenizer(pad_id, eos_id)

    def generate(subset, batch_size: int, model=generation_model) -> dict:
        return time_generation(model, tokenizer, subset, batch_size=batch_size, max_new_tokens=args.max_new_tokens,
                               device=device)

    print(f"\ngeneration: greedy, at most {args.max_new_tokens} new tokens, "
          f"{dtype_name(project_dtype)} weights with the LoRA adapter unmerged (--merge: merged, as in evaluate)")
    generate(prompts[:2], batch_size=2)  # warm-up: first kernels, allocator
    single = generate(prompts[:one_at_a_time], batch_size=1)
    print(generation_line("(a) one dialogue at a time", single))
    gen_batch_size = args.gen_batch_size[0]
    batched = generate(prompts, batch_size=gen_batch_size)
    batched["vs_one_at_a_time"] = ratio(batched, single, "dialogues_per_s")
    print(generation_line("(b) project: length-sorted batches", batched, single))
    generation = {"one_at_a_time": single, "batched": batched}
    if args.attn:
        set_attention(generation_model, other_attention)
        result = generate(prompts, batch_size=gen_batch_size)
        set_attention(generation_model, default_attention)
        result[f"{default_attention}_vs_{other_attention}"] = ratio(batched, result, "dialogues_per_s")
        generation[f"batched_{other_attention}_attention"] = result
        print(generation_line(f"(b) project, {other_attention} attention", result, single))
    if args.merge:
        # As the evaluate stage generates: unmerged, the adapter costs two extra small matmuls
        # per adapted layer per token.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # peft notes that lm_head is untied, as flan-t5's is
            merged_model = copy.deepcopy(generation_model).merge_and_unload()
        result = generate(prompts, batch_size=gen_batch_size, model=merged_model)
        result["merged_vs_unmerged"] = ratio(result, batched, "dialogues_per_s")
        generation["batched_merged_adapter"] = result
        print(generation_line("(b) project, adapter merged", result, single))
    # Other batch sizes, as evaluate generates (adapter merged) with --merge.
    sized_model, first = (merged_model, generation["batched_merged_adapter"]) if args.merge else (generation_model, batched)
    generation["batched_other_sizes"] = []
    for batch_size in args.gen_batch_size[1:]:
        result = generate(prompts, batch_size=batch_size, model=sized_model)
        result["vs_first_batch_size"] = ratio(result, first, "dialogues_per_s")
        generation["batched_other_sizes"].append(result)
        print(generation_line("(b) project" + (", adapter merged" if args.merge else ""), result, single))
    if args.merge:
        del merged_model, sized_model
    if max(tokenizer.generated_lengths) == args.max_new_tokens:
        print("  (random weights rarely emit eos, so most outputs run to --max-new-tokens; "
              "DialogSum summaries are about 30 tokens)")

    if args.json:
        write_json(args.json, {
            "machine": machine(device, load_before),
            "settings": {
                "model": args.model,
                "seed": params.seed,
                "steps": steps,
                "warmup_steps": args.warmup_steps,
                "training_examples": TRAINING_DIALOGUES,
                "dialogues": dialogues,
                "dialogues_one_at_a_time": one_at_a_time,
                "max_new_tokens": args.max_new_tokens,
                "deterministic": args.deterministic,
                "attention": training_model.config._attn_implementation,
                "lora": {"r": params.lora.r, "alpha": params.lora.alpha, "target_modules": params.lora.target_modules},
                "bf16_peak_flops": peak,
                "mfu_formula": "4 * (encoder * source_tokens + decoder_and_lm_head * target_tokens) "
                               "/ seconds / bf16_peak_flops",
            },
            "parameters": {"total": total_parameters, "trainable": trainable_parameters,
                           "encoder": encoder_parameters, "decoder_and_lm_head": decoder_parameters},
            "training": training,
            "generation": generation,
        })
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    sys.exit(run_main(main))
