"""Validation ROUGE while training: at every validation (every train.validation_steps steps, or
each epoch's end, and after the last step), summarise a fixed seeded subset of the validation
dialogues with the model as it is and log ROUGE beside the losses: what a researcher reads to
choose the number of epochs, and what train.keep: best_rouge1 keeps the adapter by.

It decodes with settings of its own, not `generate`'s (so that trying another decoding never
retrains): greedy, at most prompt.max_target_tokens new tokens, the length training teaches.
"""

import torch
from transformers import TrainerCallback

from dialogsum_lora.generation import summarise_dialogues
from dialogsum_lora.params.prompt import PromptParams
from dialogsum_lora.params.train import TrainParams
from dialogsum_lora.scoring.rouge import ROUGE_TYPES, score_corpus
from dialogsum_lora.subsets import seeded_subset


def validation_decoding(prompt: PromptParams) -> dict:
    """The GenerationConfig arguments validation ROUGE decodes with."""
    return {"max_new_tokens": prompt.max_target_tokens, "num_beams": 1}


class ValidationRouge(TrainerCallback):
    """ROUGE of the model's summaries of validation dialogues, at every validation.

    Each score goes into the Trainer's log history as `eval_rouge1`, ... (so a resumed
    run's curves have it too) and to `log` (LossCurves.log on the process that writes
    the curves, None on the others). Every process generates its share of the dialogues.
    """

    def __init__(self, tokenizer, rows: list[dict], prompt: PromptParams, train: TrainParams, seed: int, log=None):
        subset = seeded_subset(rows, train.validation_rouge_dialogues, seed)
        self.dialogues = [row["dialogue"] for row in subset]
        self.references = [[row["summary"]] for row in subset]
        self.tokenizer = tokenizer
        self.prompt, self.batch_size = prompt, train.validation_batch_size
        self.log = log

    def on_evaluate(self, args, state, control, model=None, metrics=None, **kwargs):
        was_training = model.training
        model.eval()
        # On a bf16 GPU generate as the Trainer computes, in bf16 autocast (the weights are fp32 masters, or a
        # bf16 frozen base with an fp32 adapter: train.frozen_dtype).
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
        model.train(was_training)
        if summaries is None:  # another process gathers them
            return
        scores, _ = score_corpus(summaries.texts, self.references)
        entry = {f"eval_{name}": scores[name] for name in ROUGE_TYPES}
        state.log_history.append({**entry, "epoch": state.epoch, "step": state.global_step})
        if metrics is not None:  # the validation's metrics, where KeepBest reads them (on rank 0)
            metrics.update(entry)
        if self.log is not None:
            self.log(state.global_step, entry)
