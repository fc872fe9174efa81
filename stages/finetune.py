"""Stage `finetune`: train a LoRA adapter on the training dialogues.

    python -m stages.finetune

Reads params `seed`, `model`, `prompt`, `lora` and `train`; reads
data/prepared/{train,validation}.jsonl; writes the adapter (safetensors) and
tokenizer to models/adapter/, and the loss curves (dvclive) to reports/train/.
"""

import json
import math
import os
from pathlib import Path

import torch
from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments, TrainerCallback, set_seed

from stages.data import read_jsonl
from stages.errors import UserError, run_main
from stages.modeling import load_base_model, load_tokenizer, pick_device, pick_dtype
from stages.outputs import atomic_path
from stages.params import Params, load_params
from stages.prepare import PREPARED_DIR
from stages.prompt import build_prompt

ADAPTER_DIR = Path("models/adapter")
CURVES_DIR = Path("reports/train")
WORK_DIR = Path(".trainer")  # Trainer scratch space; not a DVC output


def tokenize(rows, tokenizer, params: Params) -> list[dict]:
    """Prompted inputs and summary labels, truncated to the params' token limits."""
    inputs = tokenizer(
        [build_prompt(params.prompt.template, row["dialogue"]) for row in rows],
        max_length=params.prompt.max_source_tokens,
        truncation=True,
    )
    labels = tokenizer(
        text_target=[row["summary"] for row in rows], max_length=params.prompt.max_target_tokens, truncation=True
    )
    return [
        {"input_ids": ids, "attention_mask": mask, "labels": label}
        for ids, mask, label in zip(inputs["input_ids"], inputs["attention_mask"], labels["input_ids"])
    ]


def add_lora(model, params: Params):
    """Wrap `model` with trainable LoRA adapters on params.lora.target_modules."""
    from peft import LoraConfig, TaskType, get_peft_model

    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    absent = sorted(set(params.lora.target_modules) - present)
    if absent:
        raise UserError(
            f"params.yaml: lora.target_modules names {absent[0]!r}, which model {params.model.name!r} does not have "
            "(T5 has q, k, v, o, wi_0, wi_1, wo)"
        )
    config = LoraConfig(
        task_type=TaskType.SEQ_2_SEQ_LM,
        r=params.lora.r,
        lora_alpha=params.lora.alpha,
        lora_dropout=params.lora.dropout,
        target_modules=sorted(params.lora.target_modules),
        bias="none",
    )
    return get_peft_model(model, config)


class EvaluateLastStep(TrainerCallback):
    """Validate after the last step too, so a run shorter than an epoch still gets a validation loss."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_evaluate = True


class LossCurves(TrainerCallback):
    """Log training and validation loss against the optimiser step with dvclive."""

    def __init__(self, directory: Path):
        from dvclive import Live

        # dvcyaml=None: the pipeline's dvc.yaml declares the plots; dvclive must not edit it.
        self.live = Live(str(directory), dvcyaml=None, save_dvc_exp=False, report=None)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero:
            return
        self.live.step = state.global_step
        if "loss" in logs:
            self.live.log_metric("train/loss", round(logs["loss"], 6))
        if "eval_loss" in logs:
            self.live.log_metric("eval/loss", round(logs["eval_loss"], 6))

    def on_train_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.live.make_summary()
            self.live.end()


def save_adapter(model, tokenizer, directory: Path) -> None:
    """Save the adapter (safetensors) and tokenizer, with target_modules in a fixed order."""
    with atomic_path(directory) as temporary:
        model.save_pretrained(temporary, safe_serialization=True)
        tokenizer.save_pretrained(temporary)
        # PEFT writes target_modules from a set, whose order changes between runs.
        config_file = temporary / "adapter_config.json"
        config = json.loads(config_file.read_text())
        config["target_modules"] = sorted(config["target_modules"])
        config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def main() -> None:
    params = load_params()
    set_seed(params.seed)
    train_rows = read_jsonl(PREPARED_DIR / "train.jsonl")
    validation_rows = read_jsonl(PREPARED_DIR / "validation.jsonl")

    device = pick_device()
    tokenizer = load_tokenizer(params.model.name, params.model.revision)
    # Master weights in fp32; on a bf16 GPU the Trainer autocasts the matmuls.
    model = load_base_model(params.model.name, params.model.revision, torch.float32, device)
    model = add_lora(model, params)
    model.print_trainable_parameters()

    train_set = tokenize(train_rows, tokenizer, params)
    validation_set = tokenize(validation_rows, tokenizer, params)

    # Validation loss at the end of every epoch (and of the last step, see EvaluateLastStep).
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    steps_per_epoch = math.ceil(len(train_set) / (params.train.batch_size * world_size))
    arguments = Seq2SeqTrainingArguments(
        output_dir=str(WORK_DIR),
        per_device_train_batch_size=params.train.batch_size,
        per_device_eval_batch_size=params.train.batch_size,
        learning_rate=params.train.learning_rate,
        num_train_epochs=params.train.epochs,
        max_steps=params.train.max_steps or -1,
        eval_strategy="steps",
        eval_steps=steps_per_epoch,
        logging_steps=params.train.logging_steps,
        save_strategy="no",
        seed=params.seed,
        data_seed=params.seed,
        bf16=pick_dtype(device) == torch.bfloat16,
        train_sampling_strategy="group_by_length",
        report_to="none",
        disable_tqdm=False,
    )
    trainer = Seq2SeqTrainer(
        model=model,
        args=arguments,
        train_dataset=train_set,
        eval_dataset=validation_set,
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100),
        callbacks=[EvaluateLastStep(), LossCurves(CURVES_DIR)],
    )
    result = trainer.train()

    save_adapter(model, tokenizer, ADAPTER_DIR)
    print(f"trained {trainer.state.global_step} steps ({result.metrics['epoch']:.2f} epochs), "
          f"final train loss {result.metrics['train_loss']:.4f}; adapter in {ADAPTER_DIR}")


if __name__ == "__main__":
    run_main(main)
