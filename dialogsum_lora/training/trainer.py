"""Fine-tuning: the model made trainable, the examples, the Trainer as finetune runs it (the model's own loss),
and its callbacks: validation ROUGE, the adapter kept, resumable checkpoints, curves, clock."""

import hashlib
import json
import math
import os
import re
import resource
import shutil
import subprocess
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm
from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments, TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback
from transformers.trainer_utils import has_length

from dialogsum_lora import distributed
from dialogsum_lora.errors import UserError
from dialogsum_lora.files import read_json
from dialogsum_lora.generation import summarise_dialogues, validation_decoding
from dialogsum_lora.modeling.adapter import KeptStep, restore_weights, trained_weights
from dialogsum_lora.modeling.base import is_decoder_only, model_class
from dialogsum_lora.params import StageParams
from dialogsum_lora.params.prompt import PromptParams
from dialogsum_lora.params.train import KEEP_RULES, NOT_RECORDED, RECORDED_ARGUMENTS, TrainParams
from dialogsum_lora.paths import CHECKPOINTS_DIR, SPLIT_FILES
from dialogsum_lora.prompt import encode, encode_prompts, summary_text
from dialogsum_lora.provenance import file_hash
from dialogsum_lora.schema import parse
from dialogsum_lora.scoring.rouge import ROUGE_TYPES, score_corpus
from dialogsum_lora.subsets import seeded_subset


def check_target_modules(method: str, settings, model_dir: Path, model_name: str) -> None:
    """Refuse a method's target_modules (lora's, ia3's) naming a layer the model lacks, from its config alone."""
    from transformers import AutoConfig
    from transformers.pytorch_utils import Conv1D  # GPT-2's linear layers

    modules = getattr(settings, "target_modules", None)
    if modules is None:  # full: every layer; null: peft's default layers for the architecture
        return
    config = AutoConfig.from_pretrained(model_dir, trust_remote_code=False)
    with torch.device("meta"):  # layer names without memory
        skeleton = model_class(config).from_config(config)
    layers = (torch.nn.Linear, Conv1D)
    linear = {name.rsplit(".", 1)[-1] for name, layer in skeleton.named_modules() if isinstance(layer, layers)}
    absent = sorted(set(modules) - linear)
    if absent:
        raise UserError(
            f"params.yaml: {method}.target_modules names {absent[0]!r}, which model {model_name!r} does not have "
            f"(its linear layers: {', '.join(sorted(linear))})"
        )


def trainable_model(model, method: str, settings):
    """`model` with peft's adapter `method` (`settings`, every other option peft's default: null target_modules are
    its default layers for the architecture), or (full) all trainable."""
    from peft import IA3Config, LoraConfig, TaskType, get_peft_model

    if method == "full":
        return model.requires_grad_(True)
    task = TaskType.CAUSAL_LM if is_decoder_only(model) else TaskType.SEQ_2_SEQ_LM
    common = {"task_type": task, "target_modules": settings.target_modules}
    if method == "lora":
        config = LoraConfig(**common, r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout)
    else:
        config = IA3Config(**common, feedforward_modules=settings.feedforward_modules)
    return get_peft_model(model, config)


def adapted_modules(model, method: str, settings) -> dict:
    """Where `settings` left the layers to peft (null), the layers it adapted (`target_modules`, and ia3's
    `feedforward_modules`), sorted: the record's, so that they are recorded and described as chosen."""
    if getattr(settings, "target_modules", []) is not None:  # full, or layers named in params.yaml
        return {}
    config = model.peft_config["default"]
    keys = ("target_modules",) + (("feedforward_modules",) if method == "ia3" else ())
    return {key: sorted(getattr(config, key)) for key in keys}


def frozen_weights_dtype(train: TrainParams, method: str, compute_dtype: torch.dtype) -> torch.dtype:
    """The base model's dtype for training: bfloat16 where train.frozen_dtype asks, an adapter trains (its own
    weights stay float32: peft's autocast_adapter_dtype) and steps compute in bf16; else float32."""
    bfloat16 = train.frozen_dtype == "bfloat16" and method != "full" and compute_dtype == torch.bfloat16
    return torch.bfloat16 if bfloat16 else torch.float32


def build_training_examples(
    rows, tokenizer, prompt: PromptParams, *, decoder_only: bool = False
) -> tuple[list[dict], dict]:
    """Prompts (as inference builds them) and summary labels, tokenised, cut to `prompt`'s limits; how many were cut.

    A decoder-only model reads the prompt, the summary and an end token as one sequence, and its loss covers the
    summary and the end token alone (-100: no loss on the prompt)."""
    inputs, cut_prompts = encode_prompts(
        tokenizer, prompt, [row["dialogue"] for row in rows], decoder_only=decoder_only
    )
    if decoder_only:
        texts = [summary_text(prompt.template, row["dialogue"], row["summary"]) for row in rows]
        labels, cut_summaries = encode(tokenizer, texts, prompt.max_target_tokens - 1, special=False)
        labels = [label + [tokenizer.eos_token_id] for label in labels]
        inputs, labels = (
            [ids + label for ids, label in zip(inputs, labels)],
            [[-100] * len(ids) + label for ids, label in zip(inputs, labels)],
        )
    else:
        summaries = [row["summary"] for row in rows]
        labels, cut_summaries = encode(tokenizer, summaries, prompt.max_target_tokens, target=True)
    examples = [
        {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": label} for ids, label in zip(inputs, labels)
    ]
    return examples, {"truncated_prompts": cut_prompts, "truncated_summaries": cut_summaries}


def make_trainer(
    model,
    tokenizer,
    train: TrainParams,
    seed: int,
    dtype: torch.dtype,
    train_set,
    validation_set,
    output_dir: Path,
    callbacks: list,
    progress: bool = True,
) -> Seq2SeqTrainer:
    """The Trainer as finetune runs it (and the benchmark times): `train`'s Trainer fields as they are, the stage's
    own below (PROJECT_OWNS); `callbacks` in their order; with `progress` off, neither bars nor logs."""
    settings = train.trainer_settings()
    per_process_batch = train.batch_size // (distributed.world_size() * settings.get("gradient_accumulation_steps", 1))
    try:
        arguments = Seq2SeqTrainingArguments(
            **{"dataloader_pin_memory": torch.cuda.is_available(), **settings},
            output_dir=str(output_dir),
            per_device_train_batch_size=per_process_batch,
            per_device_eval_batch_size=per_process_batch,
            eval_strategy="steps",
            eval_steps=train.validation_steps or math.ceil(len(train_set) / train.batch_size),
            save_strategy="steps",
            save_total_limit=2,
            seed=seed,
            data_seed=seed,
            bf16=dtype == torch.bfloat16,
            train_sampling_strategy="group_by_length",
            report_to="none",
            # Told it is on the CPU, accelerate makes CPU processes data-parallel (gloo), not each train alone.
            use_cpu=not torch.cuda.is_available(),
            ddp_backend=distributed.backend() if distributed.world_size() > 1 else None,
            ddp_find_unused_parameters=False,
            # The model's loss is a per-token mean already: this would multiply it by the number of processes.
            average_tokens_across_devices=False,
            disable_tqdm=not progress,
            # The filter would hide a NaN loss from StopOnDivergence, and make every step wait for the GPU.
            logging_nan_inf_filter=False,
        )
    except ValueError as error:  # a combination of settings the Trainer's own checks refuse
        reason = " ".join(str(error).split())[:300]
        key = next((f".{key}" for key in settings if re.search(rf"\b{key}\b", reason)), "")
        raise UserError(f"params.yaml: the Trainer refuses train{key}: {reason}") from None
    trainer = Seq2SeqTrainer(
        model=model,
        args=arguments,
        train_dataset=train_set,
        eval_dataset=validation_set,
        # Its labels are padded with -100 (label_pad_token_id's default): no loss on padding.
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model, pad_to_multiple_of=train.pad_to_multiple_of),
        callbacks=[StopOnDivergence(), *callbacks, MarkCompleteCheckpoints()],
    )
    trainer.remove_callback(ProgressCallback if progress else PrinterCallback)  # neither prints the log dicts
    if progress:
        trainer.add_callback(QuietProgress)
    return trainer


def arguments_used(arguments: Seq2SeqTrainingArguments, settings: dict) -> dict:
    """For the record, the Trainer's arguments used: RECORDED_ARGUMENTS, and the others set but NOT_RECORDED."""
    keys = dict.fromkeys([*RECORDED_ARGUMENTS, *(key for key in settings if key not in NOT_RECORDED)])
    return {key: getattr(getattr(arguments, key), "value", getattr(arguments, key)) for key in keys}


# Not the Trainer's predict_with_generate and load_best_model_at_end: the first summarises every validation
# dialogue at the training batch size (here a seeded subset); the second needs a checkpoint at every validation
# and the score on every process (here rank 0 scores the gathered summaries and copies the best weights).


class ValidationRouge(TrainerCallback):
    """ROUGE of the model's summaries of validation dialogues at every validation, into the Trainer's log history
    as `eval_rouge1`, ... (so a resumed run's curves have it) and to `log` (LossCurves.log, on rank 0)."""

    def __init__(self, tokenizer, rows: list[dict], prompt: PromptParams, train: TrainParams, seed: int, log=None):
        subset = seeded_subset(rows, train.validation_rouge_dialogues, seed)
        self.dialogues = [row["dialogue"] for row in subset]
        self.references = [[row["summary"]] for row in subset]
        self.tokenizer = tokenizer
        self.prompt, self.batch_size = prompt, train.validation_batch_size
        self.log = log

    def on_evaluate(self, args, state, control, model=None, metrics=None, **kwargs):
        # The Trainer's validation has put the model in eval mode (its next step puts it back in train mode).
        # On a bf16 GPU generate as the Trainer computes, in bf16 autocast (fp32 master weights, or a bf16 base).
        with torch.autocast(next(model.parameters()).device.type, dtype=torch.bfloat16, enabled=args.bf16):
            summaries, _ = summarise_dialogues(
                model,
                self.tokenizer,
                self.dialogues,
                self.prompt,
                validation_decoding(self.prompt),
                self.batch_size,
                desc="validation",
                progress=False,
            )
        if summaries is None:  # another process gathers them
            return
        scores, _ = score_corpus(summaries.texts, self.references)
        entry = {f"eval_{name}": scores[name] for name in ROUGE_TYPES}
        state.log_history.append({**entry, "epoch": state.epoch, "step": state.global_step})
        metrics.update(entry)  # the validation's metrics, where KeepBest reads them (on rank 0)
        if self.log is not None:
            self.log(state.global_step, entry)


KEPT_WEIGHTS = "kept_adapter.safetensors"  # in a checkpoint: the best adapter up to its step
KEPT_RECORD = "kept.json"


class KeepBest(TrainerCallback):
    """On rank 0, the weights of the best validation yet by `rule` (KEEP_RULES; after ValidationRouge), saved into
    each checkpoint and read back from `resumed_from`'s."""

    def __init__(self, rule: str, resumed_from: Path | None = None):
        self.rule = rule
        self.metric, self.higher_is_better = KEEP_RULES[rule]
        self.kept: KeptStep | None = None
        self.weights: dict | None = None
        if resumed_from is not None and (resumed_from / KEPT_RECORD).is_file():
            self.kept = parse(KeptStep, read_json(resumed_from / KEPT_RECORD), str(resumed_from / KEPT_RECORD))
            self.weights = load_file(resumed_from / KEPT_WEIGHTS)

    def on_evaluate(self, args, state, control, model=None, metrics=None, **kwargs):
        value = (metrics or {}).get(self.metric)
        if not distributed.is_main_process() or value is None or not math.isfinite(value):
            return  # a NaN validation loss is no best (StopOnDivergence ends a diverging run)
        if self.kept is None or (value > self.kept.value if self.higher_is_better else value < self.kept.value):
            self.kept = KeptStep(step=state.global_step, rule=self.rule, value=value)
            self.weights = trained_weights(model)

    def on_save(self, args, state, control, **kwargs):
        if not distributed.is_main_process() or self.weights is None:
            return
        checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        save_file(self.weights, checkpoint / KEPT_WEIGHTS)
        (checkpoint / KEPT_RECORD).write_text(self.kept.model_dump_json(), encoding="utf-8")

    def restore(self, model) -> KeptStep:
        """Put the kept weights back into `model`; which step's they are."""
        if self.weights is None:
            raise UserError(
                f"train.keep is {self.rule}, but no validation gave a finite {self.metric}: set train.keep "
                "to last, or lower train.learning_rate"
            )
        restore_weights(model, self.weights)
        return self.kept


# Checkpoints to resume a killed run from: one folder per (params read, training data), .trainer/KEY/, each
# checkpoint marked once completely written; deleted once the adapter is saved.

TRAINING_DATA = (SPLIT_FILES["train"], SPLIT_FILES["validation"])


def training_data_hashes() -> dict[str, str]:
    return {str(file): f"sha256:{file_hash(file).hex()}" for file in TRAINING_DATA}


def checkpoint_directory(params: StageParams) -> Path:
    key = hashlib.sha256(json.dumps(params.model_dump(), sort_keys=True).encode())
    key.update(json.dumps(training_data_hashes(), sort_keys=True).encode())
    return CHECKPOINTS_DIR / key.hexdigest()[:16]


CHECKPOINT_COMPLETE = "checkpoint_complete"  # written into a checkpoint once the Trainer has saved all of it


class MarkCompleteCheckpoints(TrainerCallback):
    """Mark each checkpoint once completely written (on_save runs after the Trainer's save)."""

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            (Path(args.output_dir) / f"checkpoint-{state.global_step}" / CHECKPOINT_COMPLETE).touch()


def last_complete_checkpoint(directory: Path) -> Path | None:
    """The newest checkpoint marked complete; rank 0 removes the others (killed while being written). Not
    transformers' get_last_checkpoint: it takes the newest folder, complete or not."""
    marked = []
    for checkpoint in directory.glob("checkpoint-*"):
        if (checkpoint / CHECKPOINT_COMPLETE).exists():
            marked.append(checkpoint)
        elif distributed.is_main_process():
            shutil.rmtree(checkpoint)
    return max(marked, key=lambda path: int(path.name.split("-")[1]), default=None)


def remove_checkpoints(directory: Path) -> None:
    """Remove a finished run's checkpoints, and the checkpoints folder if nothing else is left."""
    shutil.rmtree(directory)
    if not any(CHECKPOINTS_DIR.iterdir()):
        CHECKPOINTS_DIR.rmdir()


class StopOnDivergence(TrainerCallback):
    """End training with a UserError as soon as the logged training loss is NaN or infinite."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            raise UserError(
                f"training diverged: the training loss is {loss} at step {state.global_step}; "
                f"lower the learning rate (now {args.learning_rate}; train.learning_rate, or full.learning_rate for "
                "method full) or lora.alpha"
            )


class QuietProgress(ProgressCallback):
    """The Trainer's progress bars without its raw log dicts, the validation bar on its own line."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        pass

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        if state.is_world_process_zero and self.prediction_bar is None and has_length(eval_dataloader):
            self.prediction_bar = tqdm(total=len(eval_dataloader), desc="validation", leave=False, position=1)
        if self.prediction_bar is not None:
            self.prediction_bar.update(1)


class LossCurves(TrainerCallback):
    """Training and validation loss (and validation ROUGE) against the optimiser step, with dvclive, made on rank 0
    alone. Not DVCLiveCallback: it logs wall times and an absolute path (reruns would differ), counts its own steps,
    and does not log a resumed run's history again."""

    def __init__(self, directory: Path):
        from dvclive import Live

        # dvcyaml=None: the pipeline's dvc.yaml declares the plots; dvclive must not edit it.
        self.live = Live(str(directory), dvcyaml=None, save_dvc_exp=False, report=None)

    NAMES = {"loss": "train/loss", **{f"eval_{name}": f"eval/{name}" for name in ("loss", *ROUGE_TYPES)}}

    def log(self, step: int, logs: dict) -> None:
        """Log the training loss, and the validation loss and ROUGE (ValidationRouge), at `step`."""
        self.live.step = step
        for key, value in logs.items():
            if key in self.NAMES:
                self.live.log_metric(self.NAMES[key], round(value, 6))

    def on_train_begin(self, args, state, control, **kwargs):
        # A resumed run's history up to its checkpoint, again: the curves match an uninterrupted run's.
        for entry in state.log_history:
            self.log(entry["step"], entry)

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.log(state.global_step, logs)

    def on_train_end(self, args, state, control, **kwargs):
        # reports/train/metrics.json (DVC's metric) keeps the last losses alone: the curves hold the rest.
        for name in set(self.live.summary.get("eval", {})) - {"loss"}:
            del self.live.summary["eval"][name]
        self.live.end()


def length_group_steps(examples: int, batch_size: int) -> int:
    """How many batches transformers' LengthGroupedSampler sorts by length together (it shuffles, then sorts
    blocks of this many): only whole blocks are a fair sample of an epoch."""
    return max(1, min(examples // (batch_size * 4), 50))


class StepClock(TrainerCallback):
    """The time at the end of every optimiser step; the steady speed over the whole length-sorted blocks of
    `block_steps` steps after the first (warm-up, compiling), neither the longest batches nor the shortest."""

    def __init__(self, block_steps: int):
        self.block_steps = block_steps
        self.times: list[float] = []  # times[i]: the end of step i + 1

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter())

    def timed_steps(self) -> int:
        """Steps in the whole blocks after the first; 0 if fewer than two blocks ran."""
        return max(0, len(self.times) // self.block_steps - 1) * self.block_steps

    def steady_steps_per_second(self) -> float | None:
        """Steps per second over timed_steps(), from the end of the first block; None if none."""
        steps, warmed_up = self.timed_steps(), self.block_steps - 1
        return steps / (self.times[warmed_up + steps] - self.times[warmed_up]) if steps else None


def training_speed(result, clock: "StepClock", train_set: list[dict], batch_size: int) -> dict:
    """How fast a finished trainer.train() ran (`result`: its output), its steady speed and its peak memory."""
    # The Trainer's own figures count a resumed run's steps alone, but include the warm-up and compiling: StepClock's
    # steady speed does not, and is what a long run's time is projected from (benchmarks/pipeline.py).
    steps, samples_per_second = len(clock.times), result.metrics["train_samples_per_second"]
    # A decoder-only model's labels are its input_ids again: their tokens are counted once.
    tokens = [len(e["input_ids"]) + (len(e["labels"]) if e["labels"][0] != -100 else 0) for e in train_set]
    tokens_per_sample = sum(tokens) / len(train_set)
    steady = clock.steady_steps_per_second()
    return {
        "steps": steps,
        "seconds_per_step": round(result.metrics["train_runtime"] / steps, 4) if steps else None,
        "samples_per_second": samples_per_second,
        "tokens_per_second": round(samples_per_second * tokens_per_sample, 1),
        # An evaluation that falls between the timed blocks is included.
        "steady_samples_per_second": round(steady * batch_size, 2) if steady else None,
        "steady_steps": clock.timed_steps(),
        **peak_memory(),
    }


def peak_memory() -> dict:
    """The most memory this process has held: what torch allocated on a GPU, or the peak resident size."""
    if torch.cuda.is_available():
        mib, of = torch.cuda.max_memory_allocated() / 2**20, "cuda allocated"
    else:
        mib, of = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process resident set"  # Linux: KiB
    return {"peak_memory_mib": round(mib, 1), "peak_memory_of": of}


def check_compiler() -> None:
    """Refuse train.torch_compile before any work when inductor has no working C++ compiler (it would fail at
    the first step). torch has no public check: its own search is asked, and the compiler builds nothing."""
    from torch._inductor import exc
    from torch._inductor.cpp_builder import get_cpp_compiler

    try:
        command = [get_cpp_compiler(), "-x", "c++", "-", "-o", os.devnull]
        subprocess.run(command, input=b"int main() { return 0; }\n", capture_output=True, check=True, timeout=300)
    except (exc.InvalidCxxCompiler, subprocess.SubprocessError, OSError) as error:
        detail = " ".join(str(error).split())[:200] or type(error).__name__
        raise UserError(
            f"params.yaml: train.torch_compile is true, but torch.compile finds no working C++ compiler ({detail}): "
            "install g++ (or set CXX to a working one), or set train.torch_compile: false"
        ) from None
