"""params.yaml `train`: fine-tuning, and the validation while it runs."""

from typing import Literal

from dialogsum_lora.errors import UserError
from dialogsum_lora.schema import Record, setting

# train.keep's rules other than `last`: the validation score that chooses the adapter kept, and
# whether higher is better (training/keep.py).
KEEP_RULES = {"best_rouge1": ("eval_rouge1", True), "lowest_loss": ("eval_loss", False)}


class TrainParams(Record):
    dialogues: int | None = setting(
        "Training dialogues trained on: a subset of this many drawn from `seed` (nested: a smaller one is part of "
        "every larger one); null for all of them.",
        ge=1,
        le=10_000_000,
    )
    learning_rate: float = setting("Peak AdamW learning rate (linear decay to 0).", gt=0, le=1)
    epochs: float = setting("Passes over the training split (ignored when max_steps is set).", gt=0, le=1000)
    batch_size: int = setting(
        "Training examples per optimiser step (the global batch, whatever processes is).", ge=1, le=4096
    )
    max_steps: int | None = setting("Optimiser steps to stop after; null trains for `epochs`.", ge=1, le=10_000_000)
    logging_steps: int = setting("Log the training loss every this many steps.", ge=1, le=10_000_000)
    checkpoint_steps: int = setting("Save a checkpoint to resume from every this many steps.", ge=1, le=10_000_000)
    compile: bool = setting(
        "torch.compile the model for training (the first steps compile; then fewer kernel launches)."
    )
    compile_mode: Literal["default", "reduce-overhead", "max-autotune-no-cudagraphs"] = setting(
        "torch.compile's mode when compile is true: reduce-overhead also replays each shape's steps as a CUDA graph "
        "(on a GPU; best with pad_to_multiple_of, for few shapes); default when compile is false."
    )
    pad_to_multiple_of: int | None = setting(
        "Pad each training batch's prompts and summaries to a multiple of this many tokens, so that a few shapes "
        "recur (compiled graphs and CUDA graphs are reused); null pads to each batch's longest. The batches and "
        "their order are the same; padding adds no loss, only dropout's random masks are drawn for the padded shape.",
        ge=1,
        le=4096,
    )
    frozen_dtype: Literal["float32", "bfloat16"] = setting(
        "The frozen base model's weights under an adapter (method lora or ia3) on a GPU with bf16: bfloat16 halves "
        "their memory and spares autocast casting them at every step, and makes the embeddings, layer norms and "
        "residual stream bf16 too; the adapter's weights stay float32. A CPU, and method full, keep every weight "
        "float32."
    )
    validation_rouge_dialogues: int | None = setting(
        "Validation dialogues summarised and scored with ROUGE at every validation (a fixed subset drawn from "
        "`seed`; greedy, at most prompt.max_target_tokens new tokens); null for all of them, 0 for none.",
        ge=0,
        le=10_000_000,
    )
    validation_batch_size: int = setting(
        "Validation dialogues summarised together for validation ROUGE.", ge=1, le=4096
    )
    validation_steps: int | None = setting(
        "Validate (loss, and ROUGE unless validation_rouge_dialogues is 0) every this many optimiser steps, and "
        "after the last; null once per epoch.",
        ge=1,
        le=10_000_000,
    )
    keep: Literal["last", "best_rouge1", "lowest_loss"] = setting(
        "The adapter kept: the last step's, or the one of the validation with the best ROUGE-1 or the lowest loss "
        "(the first such, on a tie)."
    )

    def check(self, split_dialogues: int | None = None) -> None:
        """Refuse a rule for the adapter kept that no validation can apply, and more training dialogues
        than the split has (`split_dialogues`, when it is known)."""
        if split_dialogues is not None and self.dialogues is not None and self.dialogues > split_dialogues:
            raise UserError(
                f"params.yaml: train.dialogues is {self.dialogues}, but the training split has "
                f"{split_dialogues:,}: set it to at most that, or null for all of them"
            )
        if self.compile_mode != "default" and not self.compile:
            raise UserError(
                f"params.yaml: train.compile_mode is {self.compile_mode}, but train.compile is false: set "
                "train.compile: true to compile in that mode, or train.compile_mode: default"
            )
        if self.keep == "best_rouge1" and self.validation_rouge_dialogues == 0:
            raise UserError(
                "params.yaml: train.keep is best_rouge1, but train.validation_rouge_dialogues is 0 (no "
                "validation ROUGE): set it above 0 (null for all), or train.keep to lowest_loss or last"
            )


def check_batch_split(train: TrainParams, processes: int) -> None:
    """Refuse a global batch that the processes cannot share evenly."""
    if train.batch_size % processes:
        raise UserError(
            f"params.yaml: train.batch_size ({train.batch_size}) must be a multiple of processes ({processes}): it is "
            "the global batch, split evenly across processes"
        )


def check_frozen_dtype(train: TrainParams, method: str) -> None:
    """Refuse bfloat16 frozen weights where nothing is frozen: method full trains every weight."""
    if train.frozen_dtype == "bfloat16" and method == "full":
        raise UserError(
            "params.yaml: train.frozen_dtype is bfloat16, but method full trains every weight (none is "
            "frozen, and bf16 master weights would lose the small updates): set train.frozen_dtype: "
            "float32, or method lora or ia3"
        )
