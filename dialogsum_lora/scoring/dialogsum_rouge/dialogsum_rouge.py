"""DialogSum ROUGE as a Hugging Face `evaluate` metric loaded by its local path (never the hub): the pipeline's scores,
from the same corpus_metrics. README.md beside this file says how to load it and what it computes."""

import datasets
import evaluate

from dialogsum_lora.scoring.metrics import corpus_metrics

_INPUTS = """
Args:
    predictions: one summary per dialogue; references: a list of one or more reference summaries per dialogue.
    resamples: bootstrap resamples for the 95% intervals (`ci95`; 0, the default, for none), drawn from `seed`.
    per_dialogue: also return each dialogue's scores (`per_dialogue`: {"mean": ..., "best": ...}).
Returns: the keys of the pipeline's scores.json (README.md beside this file lists them).
"""


class DialogsumRouge(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="ROUGE F1 (rouge_score, Porter stemming) against several references, as the pipeline scores.",
            citation="Lin, 2004. ROUGE: A Package for Automatic Evaluation of Summaries.",
            inputs_description=_INPUTS,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Sequence(datasets.Value("string"))}
            ),
        )

    def _compute(self, predictions, references, resamples: int = 0, seed: int = 0, per_dialogue: bool = False):
        metrics, dialogues = corpus_metrics(predictions, references, resamples, seed)
        return {**metrics, "per_dialogue": dialogues} if per_dialogue else metrics
