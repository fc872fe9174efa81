"""Validation ROUGE while training: at every validation (each epoch's end, and after the last
step), summarise a fixed seeded subset of the validation dialogues with the model as it is,
with the generation settings `evaluate` uses, and log ROUGE beside the losses. It is what
a researcher reads to choose the number of epochs."""

import random

import torch
from transformers import TrainerCallback

from dialogsum_lora.generation import summarise_dialogues
from dialogsum_lora.params import Params
from dialogsum_lora.rouge import ROUGE_TYPES, load_rouge_metric


def validation_subset(rows: list[dict], size: int | None, seed: int) -> list[dict]:
    """`size` rows drawn from `seed`, in the split's order; all of them if size is None or larger."""
    if size is None or size >= len(rows):
        return rows
    return [rows[i] for i in sorted(random.Random(seed).sample(range(len(rows)), size))]


class ValidationRouge(TrainerCallback):
    """ROUGE of the model's summaries of validation dialogues, at every validation.

    Each score goes into the Trainer's log history as `eval_rouge1`, ... (so a resumed
    run's curves have it too) and to `log` (LossCurves.log on the process that writes
    the curves, None on the others). Every process generates its share of the dialogues.
    """

    def __init__(self, tokenizer, rows: list[dict], params: Params, log=None):
        subset = validation_subset(rows, params.train.validation_rouge_dialogues, params.seed)
        self.dialogues = [row["dialogue"] for row in subset]
        self.references = [[row["summary"]] for row in subset]
        self.tokenizer = tokenizer
        self.prompt, self.generate = params.prompt, params.generate
        self.log = log

    def on_evaluate(self, args, state, control, model=None, **kwargs):
        was_training = model.training
        model.eval()
        # The weights are fp32 masters; on a bf16 GPU generate as the Trainer computes, in bf16.
        with torch.autocast(next(model.parameters()).device.type, dtype=torch.bfloat16, enabled=args.bf16):
            summaries, _ = summarise_dialogues(
                model, self.tokenizer, self.dialogues, self.prompt, self.generate, desc="validation", progress=False
            )
        model.train(was_training)
        if summaries is None:  # another process gathers them
            return
        scores = load_rouge_metric().compute(predictions=summaries, references=self.references)
        entry = {f"eval_{name}": scores[name] for name in ROUGE_TYPES}
        state.log_history.append({**entry, "epoch": state.epoch, "step": state.global_step})
        if self.log is not None:
            self.log(state.global_step, entry)
