"""DialogSum ROUGE as a Hugging Face `evaluate` metric, loaded by its local path (never from the hub):
the pipeline's scores, from the same function (dialogsum_lora.scoring.metrics.corpus_metrics).
README.md beside this file says how to load it and what it computes."""

import datasets
import evaluate

from dialogsum_lora.scoring.metrics import corpus_metrics

_DESCRIPTION = """ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum F1 (rouge_score, Porter stemming) of one
prediction against several references: the headline is the mean over dialogues of the average
over each dialogue's references, with the best-of-references mean beside it; rougeLsum on
sentences split by punctuation. Optionally, 95% bootstrap intervals over dialogues."""

_INPUTS = """
Args:
    predictions: one summary (a string) per dialogue.
    references: one list of reference summaries (strings, at least one) per dialogue.
    resamples: bootstrap resamples for the 95% intervals (`ci95`); 0 (the default) for none.
    seed: the seed the resamples are drawn from.
    per_dialogue: also return each dialogue's scores (`per_dialogue`: {"mean": ..., "best": ...}).
Returns:
    the keys of the pipeline's scores.json: rouge1, rouge2, rougeL, rougeLsum (fractions), ci95 (with
    resamples), num_dialogues, num_references, best_reference, blank_predictions and length.
"""


class DialogsumRouge(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Lin, 2004. ROUGE: A Package for Automatic Evaluation of Summaries.",
            inputs_description=_INPUTS,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Sequence(datasets.Value("string"))}
            ),
        )

    def _compute(self, predictions, references, resamples: int = 0, seed: int = 0, per_dialogue: bool = False):
        metrics, dialogues = corpus_metrics(predictions, references, resamples, seed)
        return {**metrics, "per_dialogue": dialogues} if per_dialogue else metrics
