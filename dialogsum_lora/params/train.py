"""params.yaml `train`: fine-tuning, and the validation while it runs. The project's own keys (TrainParams' fields)
say what the Trainer cannot; any other is a `Seq2SeqTrainingArguments` field (`optim`, ...), passed through as it is,
checked by the Trainer's own types; one the stage sets itself is refused with where it lives (`PROJECT_OWNS`)."""

import dataclasses
import typing
from enum import Enum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from dialogsum_lora.errors import UserError
from dialogsum_lora.schema import Record, parse, setting

# train.keep's rules but `last`: the validation score that chooses the adapter kept, and whether higher is better.
KEEP_RULES = {"best_rouge1": ("eval_rouge1", True), "lowest_loss": ("eval_loss", False)}

# fmt: off
PROJECT_OWNS = {
    "the stage's outputs (dvc.yaml: models/adapter, reports/train)": (
        "output_dir", "report_to", "run_name", "project", "disable_tqdm"),
    "params.yaml seed": ("seed", "data_seed", "full_determinism"),
    "train.batch_size (the global batch, split across processes)": (
        "per_device_train_batch_size", "per_device_eval_batch_size", "auto_find_batch_size"),
    "processes (params.yaml), which sets the devices and the backend": (
        "use_cpu", "ddp_backend", "local_rank", "fsdp", "fsdp_config", "deepspeed", "parallelism_config",
        "accelerator_config", "average_tokens_across_devices", "ddp_find_unused_parameters"),
    "the device: bf16 where the GPU has it, else fp32 (T5 overflows in fp16); train.frozen_dtype": (
        "bf16", "fp16", "bf16_full_eval", "fp16_full_eval"),
    "train.validation_steps and train.validation_rouge_dialogues": (
        "eval_strategy", "eval_steps", "eval_delay", "eval_on_start", "do_eval", "do_train", "do_predict",
        "prediction_loss_only", "predict_with_generate", "generation_max_length", "generation_num_beams",
        "generation_config", "batch_eval_metrics", "include_for_metrics"),
    "train.save_steps (a rerun resumes from the last complete checkpoint)": (
        "save_strategy", "save_total_limit", "save_only_model", "save_on_each_node", "resume_from_checkpoint",
        "ignore_data_skip", "restore_callback_states_from_checkpoint", "enable_jit_checkpoint"),
    "train.keep": ("load_best_model_at_end", "metric_for_best_model", "greater_is_better"),
    "train.logging_steps (a NaN or infinite loss always stops training)": (
        "logging_strategy", "logging_nan_inf_filter", "logging_first_step"),
    "the prepared examples (length-grouped batches, labels padded with -100)": (
        "train_sampling_strategy", "length_column_name", "remove_unused_columns", "label_names",
        "sortish_sampler", "dataloader_drop_last"),
    "dialogsum-export and the hub's own upload (docs/sharing.md)": (
        "push_to_hub", "hub_token", "hub_private_repo", "hub_model_id", "hub_strategy", "hub_always_push",
        "hub_revision", "trackio_space_id", "trackio_bucket_id", "trackio_static_space_id"),
}
# fmt: on
OWNER = {field: owner for owner, fields in PROJECT_OWNS.items() for field in fields}
# Where a value would train nothing or fail after the model loads: a learning rate of 0, no epoch, ...
BOUNDS = {
    "learning_rate": {"gt": 0, "le": 1},
    "num_train_epochs": {"gt": 0, "le": 1000},
    "max_steps": {"ge": -1, "le": 10_000_000},
    "warmup_steps": {"ge": 0},
    "weight_decay": {"ge": 0},
    "logging_steps": {"gt": 0},
    "save_steps": {"gt": 0},
    "gradient_accumulation_steps": {"ge": 1, "le": 4096},
}
# The arguments every record states, whether params.yaml sets them or the Trainer's defaults do.
RECORDED_ARGUMENTS = ("optim", "learning_rate", "lr_scheduler_type", "warmup_steps", "weight_decay")
# Fields a record leaves out: they change no weight, and the record's `training` says how long it trained.
NOT_RECORDED = ("logging_steps", "save_steps", "num_train_epochs", "max_steps")


class TrainParams(Record):
    model_config = ConfigDict(extra="allow")  # any other key: a Seq2SeqTrainingArguments field (check_trainer_settings)

    dialogues: int | None = setting(
        "Training dialogues: a nested subset of this many drawn from `seed`; null for all of them.", ge=1, le=10_000_000
    )
    batch_size: int = setting(
        "Training examples per optimiser step (the global batch, whatever processes is).", ge=1, le=4096
    )
    pad_to_multiple_of: int | None = setting(
        "Pad each training batch's prompts and summaries to a multiple of this many tokens, so that a few shapes "
        "recur (compiled graphs and CUDA graphs are reused); null pads to each batch's longest. The batches and "
        "their order are the same; padding adds no loss, only dropout's random masks are drawn for the padded shape.",
        ge=1,
        le=4096,
    )
    frozen_dtype: Literal["float32", "bfloat16"] = setting(
        "The frozen base model's weights under an adapter (lora, ia3) on a bf16 GPU: bfloat16 halves their memory and "
        "spares autocast's casts, but makes the embeddings, layer norms and residual stream bf16 too. The adapter's "
        "weights, and every weight on a CPU or under method full, stay float32."
    )
    validation_rouge_dialogues: int | None = setting(
        "Validation dialogues summarised (greedy, at most prompt.max_target_tokens) and scored with ROUGE at every "
        "validation: a fixed subset drawn from `seed`; null for all of them, 0 for none.",
        ge=0,
        le=10_000_000,
    )
    validation_batch_size: int = setting(
        "Validation dialogues summarised together for validation ROUGE.", ge=1, le=4096
    )
    validation_steps: int | None = setting(
        "Validate (loss, ROUGE) every this many steps, and after the last; null once per epoch.", ge=1, le=10_000_000
    )
    keep: Literal["last", "best_rouge1", "lowest_loss"] = setting(
        "The adapter kept: the last step's, or the one of the validation with the best ROUGE-1 or the lowest loss "
        "(the first such, on a tie)."
    )

    def trainer_settings(self) -> dict:
        """The Seq2SeqTrainingArguments fields params.yaml sets."""
        return dict(self.model_extra or {})

    def compiles_with_inductor(self) -> bool:
        """Whether the Trainer will compile with inductor, its default backend: the one that needs a C++ compiler."""
        settings = self.trainer_settings()
        compiles = any(settings.get(key) for key in ("torch_compile", "torch_compile_mode", "torch_compile_backend"))
        return compiles and settings.get("torch_compile_backend") in (None, "inductor")

    def check(self, split_dialogues: int | None = None, method: str | None = None) -> None:
        """Refuse bfloat16 frozen weights where nothing is frozen (method full trains every weight), a train.keep no
        validation can apply, and more dialogues than the split has, if known."""
        if self.frozen_dtype == "bfloat16" and method == "full":
            raise UserError(
                "params.yaml: train.frozen_dtype is bfloat16, but method full trains every weight (none is "
                "frozen, and bf16 master weights would lose the small updates): set train.frozen_dtype: "
                "float32, or method lora or ia3"
            )
        if split_dialogues is not None and self.dialogues is not None and self.dialogues > split_dialogues:
            raise UserError(
                f"params.yaml: train.dialogues is {self.dialogues}, but the training split has "
                f"{split_dialogues:,}: set it to at most that, or null for all of them"
            )
        if self.keep == "best_rouge1" and self.validation_rouge_dialogues == 0:
            raise UserError(
                "params.yaml: train.keep is best_rouge1, but train.validation_rouge_dialogues is 0 (no "
                "validation ROUGE): set it above 0 (null for all), or train.keep to lowest_loss or last"
            )


def check_trainer_settings(train: TrainParams) -> None:
    """Refuse a `train` key that is neither the project's nor a Seq2SeqTrainingArguments field, one the stage sets
    itself, and a value the Trainer's types refuse. It imports transformers: call it after the cheap checks."""
    from pydantic import create_model
    from transformers import Seq2SeqTrainingArguments

    fields = {field.name: field for field in dataclasses.fields(Seq2SeqTrainingArguments) if field.init}
    settings = train.trainer_settings()
    for key in settings:
        if key in OWNER:
            raise UserError(f"params.yaml: train.{key} is set by the finetune stage itself; it lives in {OWNER[key]}")
        if key not in fields:
            raise UserError(
                f"params.yaml: unknown key train.{key} (neither the project's: {', '.join(TrainParams.model_fields)}; "
                "nor a field of transformers' Seq2SeqTrainingArguments)"
            )
    hints = typing.get_type_hints(Seq2SeqTrainingArguments)
    arguments = create_model(
        "TrainerSettings",
        __config__=ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, arbitrary_types_allowed=True),
        **{key: (Annotated[_accepted(hints[key]), Field(**BOUNDS.get(key, {}))], None) for key in settings},
    )
    parse(create_model("Params", train=(arguments, ...)), {"train": settings}, "params.yaml")
    compiling = {key for key in ("torch_compile_mode", "torch_compile_backend") if settings.get(key) is not None}
    if compiling and settings.get("torch_compile") is False:
        raise UserError(
            f"params.yaml: train.{sorted(compiling)[0]} is set, but train.torch_compile is false: set "
            "train.torch_compile: true to compile so, or remove the setting"
        )


def _accepted(hint):
    """A field's type, but its enum's values alone where the Trainer takes an enum or text (optim, ...). Not checked
    by making the arguments: that sets up accelerate's devices before the stage's own arguments can."""
    kinds = typing.get_args(hint)
    values = [member.value for kind in kinds if isinstance(kind, type) and issubclass(kind, Enum) for member in kind]
    return Literal[tuple(values)] if values else hint


def check_batch_split(train: TrainParams, processes: int) -> None:
    """Refuse a global batch that the processes (and gradient accumulation) cannot share evenly."""
    accumulation = train.trainer_settings().get("gradient_accumulation_steps", 1)
    if train.batch_size % (processes * accumulation):
        raise UserError(
            f"params.yaml: train.batch_size ({train.batch_size}) must be a multiple of processes ({processes}) "
            f"times train.gradient_accumulation_steps ({accumulation}): it is the global batch, split evenly "
            "across processes and accumulated steps"
        )
