"""Training speed: a plain loop (the tutorial's settings, or the project's) and the finetune
stage's own Trainer, on token ids with DialogSum's lengths. Each returns its figures."""

import copy
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.machine import synchronize
from dialogsum_lora.errors import UserError
from dialogsum_lora.modeling.base import pick_dtype
from dialogsum_lora.modeling.tiny import build_tokenizer
from dialogsum_lora.training.trainer import StepClock, length_group_steps, make_trainer

MAX_GRAD_NORM = 1.0  # the Trainer's default, so the finetune stage clips at 1.0 too


def stack_parameters(model) -> tuple[int, int]:
    """Parameters that do matmuls per source token (encoder) and per target token (decoder + lm_head).

    The embedding tables are left out: a lookup does no multiplications.
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # a peft model, or the model itself
    embedding_ids = {id(base.get_input_embeddings().weight)}

    def count(module) -> int:
        return sum(p.numel() for p in module.parameters() if id(p) not in embedding_ids)

    if not base.config.is_encoder_decoder:  # every token, prompt or summary, through every layer and the lm_head
        every = count(base.model.layers) + base.lm_head.weight.numel()
        return every, every
    return count(base.encoder), count(base.decoder) + count(base.lm_head)


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


def collate(
    sources: list[np.ndarray], targets: list[np.ndarray], pad_id: int, decoder_only: bool = False
) -> dict[str, torch.Tensor]:
    """Pad to the batch's longest source and target, as DataCollatorForSeq2Seq does.

    Labels pad with -100 so padding adds no loss; T5 builds decoder_input_ids
    from the labels itself. A decoder-only model reads each source and target as one sequence, with
    the loss on the target alone (build_training_examples).
    """
    if decoder_only:
        sources, targets = (
            [np.concatenate([source, target]) for source, target in zip(sources, targets)],
            [np.concatenate([np.full(len(source), -100), target]) for source, target in zip(sources, targets)],
        )
    input_ids = torch.full((len(sources), max(map(len, sources))), pad_id, dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    labels = torch.full((len(targets), max(map(len, targets))), -100, dtype=torch.long)
    for row, (source, target) in enumerate(zip(sources, targets)):
        input_ids[row, : len(source)] = torch.from_numpy(source)
        attention_mask[row, : len(source)] = 1
        labels[row, : len(target)] = torch.from_numpy(target)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def time_training(
    model,
    examples,
    batches,
    *,
    warmup_steps,
    autocast_dtype,
    learning_rate,
    flops_per_token,
    pad_id,
    device,
    each_step: bool = False,
    decoder_only: bool = False,
) -> dict:
    """Train on `batches` (the first `warmup_steps` untimed) and return the throughput of the rest;
    with `each_step`, also each timed step's seconds (waiting for the GPU after every step).

    A plain loop doing what the Trainer does per step: forward, backward, clip,
    fused AdamW (the Trainer's default optimiser in transformers 5), zero grads.
    """
    sources, targets = examples
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate, fused=True)

    def train_step(indices: list[int]) -> None:
        batch = collate([sources[i] for i in indices], [targets[i] for i in indices], pad_id, decoder_only)
        batch = {key: value.to(device, non_blocking=True) for key, value in batch.items()}
        with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
            loss = model(**batch).loss
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
    ends = []
    for indices in timed:
        train_step(indices)
        if each_step:
            synchronize(device)
            ends.append(time.perf_counter())
    synchronize(device)
    seconds = time.perf_counter() - start

    samples = sum(len(indices) for indices in timed)
    source_tokens = sum(len(sources[i]) for indices in timed for i in indices)
    target_tokens = sum(len(targets[i]) for indices in timed for i in indices)
    padded_tokens = sum(
        len(indices)
        * (
            max(len(sources[i]) + len(targets[i]) for i in indices)  # one sequence each
            if decoder_only
            else max(len(sources[i]) for i in indices) + max(len(targets[i]) for i in indices)
        )
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
        **({"step_seconds": np.diff([start, *ends]).tolist()} if each_step else {}),
    }


def time_stage_trainer(
    model, params, train_set: list[dict], batch_size: int, *, compile: bool, steps: int, flops_per_token, device
) -> dict:
    """Train through dialogsum_lora.training.trainer.make_trainer (the stage's own Seq2SeqTrainer, arguments and
    collator) on `train_set` (finetune's example dicts), and return its steady throughput.

    The Trainer sorts each block of up to 50 batches longest first
    (length_group_steps). Warming up for one whole block (compiling
    included) and timing whole blocks makes the timed steps a fair sample of the
    epoch; part of a block would lean to its long or its short batches.
    """
    block = length_group_steps(len(train_set), batch_size)
    timed_steps = block * math.ceil(steps / block)
    if block + timed_steps > len(train_set) // batch_size:
        raise UserError(
            f"batch {batch_size}: an epoch has only {len(train_set) // batch_size} steps, fewer than "
            f"{block} warm-up + {timed_steps} timed steps"
        )
    # Validation once an epoch, as before train.validation_steps: never inside the timed steps.
    train = params.train.model_copy(
        update={
            "batch_size": batch_size,
            "max_steps": block + timed_steps,
            "torch_compile": compile,
            "validation_steps": None,
        }
    )
    clock = StepClock(block_steps=block)
    # Any tokenizer with pad id 0 pads as flan-t5's would; the tiny one needs no download.
    tokenizer = build_tokenizer()
    # A copy: the Trainer wraps the model it trains (accelerate's autocast on a GPU), and the
    # other settings must time the model as it was.
    model = copy.deepcopy(model)
    with tempfile.TemporaryDirectory() as output_dir:
        trainer = make_trainer(
            model,
            tokenizer,
            train,
            params.seed,
            pick_dtype(device),
            train_set,
            train_set[:batch_size],
            Path(output_dir),
            [clock],
            progress=False,
        )
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
