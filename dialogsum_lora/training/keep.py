"""The adapter finetune keeps (params.yaml train.keep): the last step's, or the one of the
validation with the best ROUGE-1 or the lowest loss.

Not the Trainer's load_best_model_at_end: it wants a checkpoint saved at every validation
(train.save_steps a multiple of train.validation_steps), and it sees validation ROUGE only
if every process computes it (here rank 0 scores the gathered summaries). KeepBest copies the
weights trained (an adapter's: a few MB; with `method: full`, the whole model's) at each new best
on rank 0, which alone saves them, and writes the copy into each checkpoint, so that a killed
run resumes with it.
"""

import math
from pathlib import Path

from transformers import TrainerCallback

from dialogsum_lora import distributed
from dialogsum_lora.errors import UserError
from dialogsum_lora.files.outputs import read_json
from dialogsum_lora.modeling.adapter import KeptStep, restore_weights, trained_weights
from dialogsum_lora.params.train import KEEP_RULES
from dialogsum_lora.schema import parse

KEPT_WEIGHTS = "kept_adapter.safetensors"  # in a checkpoint: the best adapter up to its step
KEPT_RECORD = "kept.json"


class KeepBest(TrainerCallback):
    """The weights trained at the best validation so far, by `rule` (a KEEP_RULES key), on rank 0.

    It reads the score from the validation's metrics (ValidationRouge adds eval_rouge1 to them,
    so it must come first among the callbacks), and it must save into a checkpoint before the
    checkpoint is marked complete. `resumed_from` is the checkpoint a resumed run starts from.
    """

    def __init__(self, rule: str, resumed_from: Path | None = None):
        self.rule = rule
        self.metric, self.higher_is_better = KEEP_RULES[rule]
        self.kept: KeptStep | None = None
        self.weights: dict | None = None
        if resumed_from is not None and (resumed_from / KEPT_RECORD).is_file():
            from safetensors.torch import load_file

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
        from safetensors.torch import save_file

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
