"""Stage `finetune`: train a LoRA adapter on the training dialogues.

    python -m stages.finetune

Reads params `seed`, `processes`, `model`, `prompt`, `lora` and `train`; reads
data/prepared/{train,validation}.jsonl; writes the adapter (safetensors),
tokenizer and provenance to models/adapter/, and the loss curves (dvclive) to
reports/train/.

Trainer checkpoints go to .trainer/KEY/, KEY a hash of the params and data
this stage reads: a run that is killed (preempted, out of memory) resumes from
its last complete checkpoint when rerun with the same inputs, and any other
change starts afresh. The folder is deleted once the adapter is saved.
"""

import contextlib
import dataclasses
import hashlib
import json
import math
import shutil
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments, TrainerCallback
from transformers.trainer_callback import ProgressCallback
from transformers.trainer_utils import has_length

from stages import distributed
from stages.data import read_jsonl
from stages.errors import UserError, run_main
from stages.modeling import (
    load_base_model,
    load_config,
    load_tokenizer,
    make_deterministic,
    model_directory,
    pick_device,
    pick_dtype,
    save_tokenizer,
)
from stages.outputs import atomic_path, check_writable, require, write_json
from stages.params import Params, load_params
from stages.prepare import PREPARED_DIR
from stages.prompt import build_prompt, encode
from stages.provenance import TIMING_DIR, Stopwatch, model_provenance

ADAPTER_DIR = Path("models/adapter")
CURVES_DIR = Path("reports/train")
CHECKPOINTS_DIR = Path(".trainer")  # survives a killed run; not a DVC output
DATA_FILES = (PREPARED_DIR / "train.jsonl", PREPARED_DIR / "validation.jsonl")


def tokenize(rows, tokenizer, params: Params) -> tuple[list[dict], dict]:
    """Prompted inputs and summary labels, cut to the params' token limits, tokenised once;
    and how many prompts and summaries were cut."""
    prompts = [build_prompt(params.prompt.template, row["dialogue"]) for row in rows]
    inputs, cut_prompts = encode(tokenizer, prompts, params.prompt.max_source_tokens)
    labels, cut_summaries = encode(tokenizer, [row["summary"] for row in rows], params.prompt.max_target_tokens, target=True)
    examples = [
        {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": label} for ids, label in zip(inputs, labels)
    ]
    return examples, {"truncated_prompts": cut_prompts, "truncated_summaries": cut_summaries}


def check_target_modules(params: Params, model_dir: Path) -> None:
    """Fail before loading weights if lora.target_modules names a layer the model lacks."""
    from transformers import AutoModelForSeq2SeqLM

    config = load_config(model_dir)
    with torch.device("meta"):  # the layer names, without allocating any weights
        skeleton = AutoModelForSeq2SeqLM.from_config(config)
    present = sorted({name.rsplit(".", 1)[-1] for name, module in skeleton.named_modules() if isinstance(module, torch.nn.Linear)})
    absent = sorted(set(params.lora.target_modules) - set(present))
    if absent:
        raise UserError(
            f"params.yaml: lora.target_modules names {absent[0]!r}, which model {params.model.name!r} does not have "
            f"(its linear layers: {', '.join(present)})"
        )


def add_lora(model, params: Params):
    """Wrap `model` with trainable LoRA adapters on params.lora.target_modules."""
    from peft import LoraConfig, TaskType, get_peft_model

    config = LoraConfig(
        task_type=TaskType.SEQ_2_SEQ_LM,
        r=params.lora.r,
        lora_alpha=params.lora.alpha,
        lora_dropout=params.lora.dropout,
        target_modules=sorted(params.lora.target_modules),
        bias="none",
    )
    return get_peft_model(model, config)


def length_group_steps(examples: int, batch_size: int) -> int:
    """How many batches the Trainer's length grouping sorts together, longest first.

    transformers' LengthGroupedSampler (train_sampling_strategy="group_by_length")
    shuffles, cuts the order into blocks of this many batches and sorts each
    block by length: only whole blocks are a fair sample of an epoch.
    """
    return max(1, min(examples // (batch_size * 4), 50))


class StepClock(TrainerCallback):
    """The time at the end of every optimiser step, for the steady training speed.

    The first block of `block_steps` steps warms up (and, with train.compile,
    compiles); the speed is timed over the whole blocks after it, so that it is
    neither the longest nor the shortest batches of a length-sorted block.
    """

    def __init__(self, block_steps: int):
        self.block_steps = block_steps
        self.times: list[float] = []  # times[i]: the end of step i + 1

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter())

    def timed_steps(self) -> int:
        """Steps in the whole blocks after the first; 0 if fewer than two blocks ran."""
        return max(0, len(self.times) // self.block_steps - 1) * self.block_steps

    def steady_steps_per_second(self) -> float | None:
        """Steps per second over timed_steps() (from the end of the first block), or None."""
        steps = self.timed_steps()
        if not steps:
            return None
        warmed_up = self.times[self.block_steps - 1]
        return steps / (self.times[self.block_steps + steps - 1] - warmed_up)


class LossCurves(TrainerCallback):
    """Log training and validation loss against the optimiser step with dvclive."""

    def __init__(self, directory: Path):
        from dvclive import Live

        # dvcyaml=None: the pipeline's dvc.yaml declares the plots; dvclive must not edit it.
        self.live = Live(str(directory), dvcyaml=None, save_dvc_exp=False, report=None)

    def _log(self, step: int, logs: dict) -> None:
        self.live.step = step
        if "loss" in logs:
            self.live.log_metric("train/loss", round(logs["loss"], 6))
        if "eval_loss" in logs:
            self.live.log_metric("eval/loss", round(logs["eval_loss"], 6))

    def on_train_begin(self, args, state, control, **kwargs):
        # A resumed run starts with the history up to its checkpoint: log it again,
        # so the curves match those of an uninterrupted run.
        if state.is_world_process_zero:
            for entry in state.log_history:
                self._log(entry["step"], entry)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero:
            self._log(state.global_step, logs)

    def on_train_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.live.make_summary()
            self.live.end()


def make_trainer(model, tokenizer, params: Params, dtype: torch.dtype, train_set, validation_set, output_dir: Path,
                 callbacks: list) -> Seq2SeqTrainer:
    """The Trainer as this stage runs it (the throughput benchmark times this same one).

    Validation loss at the end of every epoch, and after the last step (the
    Trainer adds that one, so a run shorter than an epoch is validated too);
    train.batch_size is the global batch, whatever the number of processes.
    """
    steps_per_epoch = math.ceil(len(train_set) / params.train.batch_size)
    per_process_batch = params.train.batch_size // distributed.world_size()
    arguments = Seq2SeqTrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=per_process_batch,
        per_device_eval_batch_size=per_process_batch,
        learning_rate=params.train.learning_rate,
        num_train_epochs=params.train.epochs,
        max_steps=params.train.max_steps or -1,
        eval_strategy="steps",
        eval_steps=steps_per_epoch,
        logging_steps=params.train.logging_steps,
        save_strategy="steps",
        save_steps=params.train.checkpoint_steps,
        save_total_limit=2,
        seed=params.seed,
        data_seed=params.seed,
        bf16=dtype == torch.bfloat16,
        train_sampling_strategy="group_by_length",
        torch_compile=params.train.compile,
        report_to="none",
        dataloader_pin_memory=torch.cuda.is_available(),
        ddp_backend=distributed.backend() if distributed.world_size() > 1 else None,
        ddp_find_unused_parameters=False,
        # T5's loss is already a per-token mean; with this on, the Trainer would
        # multiply it by the number of processes (doubling the gradients at 2).
        average_tokens_across_devices=False,
        disable_tqdm=False,
    )
    trainer = Seq2SeqTrainer(
        model=model,
        args=arguments,
        train_dataset=train_set,
        eval_dataset=validation_set,
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100),
        callbacks=[MarkCompleteCheckpoints(), StopOnDivergence(params.train.learning_rate), *callbacks],
    )
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(QuietProgress)
    return trainer


def save_adapter(model, tokenizer, provenance: dict, directory: Path) -> None:
    """Save the adapter (safetensors), tokenizer and provenance, with target_modules in a fixed
    order; refuse weights that are not all finite."""
    if not all(torch.isfinite(p).all() for p in model.parameters() if p.requires_grad):
        raise UserError("training diverged: the adapter's weights are not all finite; lower train.learning_rate or lora.alpha")
    with atomic_path(directory) as temporary:
        model.save_pretrained(temporary, safe_serialization=True)
        save_tokenizer(tokenizer, temporary)
        write_json(temporary / "provenance.json", provenance)
        # PEFT writes target_modules from a set, whose order changes between runs.
        config_file = temporary / "adapter_config.json"
        config = json.loads(config_file.read_text())
        config["target_modules"] = sorted(config["target_modules"])
        config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def run_directory(params: Params) -> Path:
    """Where this run's checkpoints go: one folder per (params read, training data)."""
    key = hashlib.sha256()
    for section in ("seed", "model", "prompt", "lora", "train"):
        value = getattr(params, section)
        key.update(json.dumps(dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value, sort_keys=True).encode())
    for file in DATA_FILES:
        key.update(hashlib.sha256(file.read_bytes()).digest())
    return CHECKPOINTS_DIR / key.hexdigest()[:16]


CHECKPOINT_COMPLETE = "checkpoint_complete"  # written into a checkpoint once the Trainer has saved all of it


class MarkCompleteCheckpoints(TrainerCallback):
    """Mark each checkpoint once it is completely written (on_save runs after the Trainer's save)."""

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            (Path(args.output_dir) / f"checkpoint-{state.global_step}" / CHECKPOINT_COMPLETE).touch()


def last_complete_checkpoint(directory: Path) -> Path | None:
    """The newest checkpoint marked complete; rank 0 removes the others (killed while being written).

    Not transformers' get_last_checkpoint: it takes the newest folder, complete or not.
    """
    complete = []
    for checkpoint in directory.glob("checkpoint-*"):
        if (checkpoint / CHECKPOINT_COMPLETE).exists():
            complete.append(checkpoint)
        elif distributed.is_main_process():
            shutil.rmtree(checkpoint)
    return max(complete, key=lambda path: int(path.name.split("-")[1]), default=None)


class StopOnDivergence(TrainerCallback):
    """End training with a UserError as soon as the logged training loss is NaN or infinite."""

    def __init__(self, learning_rate: float):
        self.learning_rate = learning_rate

    def on_log(self, args, state, control, logs=None, **kwargs):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            raise UserError(
                f"training diverged: the training loss is {loss} at step {state.global_step}; "
                f"lower train.learning_rate (now {self.learning_rate}) or lora.alpha"
            )


class QuietProgress(ProgressCallback):
    """The Trainer's progress bars, without its raw log dicts (the curves are in reports/train),
    and with the validation bar on its own line below the training bar."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        pass

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        if state.is_world_process_zero and self.prediction_bar is None and has_length(eval_dataloader):
            self.prediction_bar = tqdm(total=len(eval_dataloader), desc="validation", leave=False, position=1)
        if self.prediction_bar is not None:
            self.prediction_bar.update(1)


def main() -> None:
    params = load_params()
    model_dir, resolved = model_directory(params.model.name, params.model.revision)
    check_target_modules(params, model_dir)
    train_rows = read_jsonl(require(DATA_FILES[0]))
    validation_rows = read_jsonl(require(DATA_FILES[1]))
    run_dir = run_directory(params)
    check_writable([ADAPTER_DIR, CURVES_DIR, run_dir / "checkpoint", TIMING_DIR / "finetune.json"])
    distributed.relaunch_if_needed(params.processes, "stages.finetune")

    make_deterministic(params.seed)

    device = pick_device()
    dtype = pick_dtype(device)
    tokenizer = load_tokenizer(model_dir)
    # Master weights in fp32; on a bf16 GPU the Trainer autocasts the matmuls.
    base = load_base_model(model_dir, torch.float32, device)
    model = add_lora(base, params)
    if distributed.is_main_process():
        model.print_trainable_parameters()

    train_set, truncated = tokenize(train_rows, tokenizer, params)
    validation_set, _ = tokenize(validation_rows, tokenizer, params)
    limits = {"truncated_prompts": "max_source_tokens", "truncated_summaries": "max_target_tokens"}
    for key, limit in limits.items():
        if truncated[key] and distributed.is_main_process():
            print(f"{truncated[key]} of {len(train_set)} training {key.removeprefix('truncated_')} are longer "
                  f"than prompt.{limit}={getattr(params.prompt, limit)} and are cut")

    checkpoint = last_complete_checkpoint(run_dir)

    clock = StepClock(length_group_steps(len(train_set), params.train.batch_size))
    # Rank 0 writes the loss curves beside reports/train and moves them into place when
    # training ends: a killed run leaves no partial curves (or metrics.json) there.
    curves = atomic_path(CURVES_DIR) if distributed.is_main_process() else contextlib.nullcontext()
    with curves as curves_dir:
        callbacks = [clock] + ([LossCurves(curves_dir)] if curves_dir else [])
        trainer = make_trainer(model, tokenizer, params, dtype, train_set, validation_set, run_dir, callbacks)
        if checkpoint and distributed.is_main_process():
            print(f"resuming from {checkpoint}")
        with Stopwatch("finetune") as stopwatch:
            result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if not trainer.is_world_process_zero():
        return
    steps_run = trainer.state.global_step - (int(checkpoint.name.split("-")[1]) if checkpoint else 0)
    samples = steps_run * params.train.batch_size
    tokens_per_sample = sum(len(e["input_ids"]) + len(e["labels"]) for e in train_set) / len(train_set)
    steady = clock.steady_steps_per_second()
    stopwatch.write(
        steps=steps_run,
        resumed_from_step=trainer.state.global_step - steps_run,
        samples_per_second=round(samples / stopwatch.seconds, 2),
        tokens_per_second=round(samples * tokens_per_sample / stopwatch.seconds, 1),
        # Whole length-sorted blocks after the first (warm-up, compiling); an evaluation that
        # falls between them is included.
        steady_samples_per_second=round(steady * params.train.batch_size, 2) if steady else None,
        steady_steps=clock.timed_steps(),
        steps_per_epoch=trainer.args.eval_steps,
    )

    provenance = model_provenance(params, resolved, device, dtype)
    provenance["training"] = {
        "steps": trainer.state.global_step,
        "epochs": round(result.metrics["epoch"], 4),
        **truncated,
    }
    save_adapter(model, tokenizer, provenance, ADAPTER_DIR)
    shutil.rmtree(run_dir)
    if not any(CHECKPOINTS_DIR.iterdir()):
        CHECKPOINTS_DIR.rmdir()
    print(f"trained {trainer.state.global_step} steps ({result.metrics['epoch']:.2f} epochs), "
          f"final train loss {result.metrics['train_loss']:.4f}; adapter in {ADAPTER_DIR}")


if __name__ == "__main__":
    run_main(main)
