"""How results read, wherever they are shown (the console, report.md, the model cards): scores
with their intervals, paired changes, p-values, and what a comparison can and cannot tell.

The two systems are called as their results directories are, `baseline` (the base model
alone) and `finetuned` (with the trained weights), everywhere.
"""

from dialogsum_lora.paths import BASELINE, FINETUNED
from dialogsum_lora.scoring.rouge import ROUGE_TYPES

# Fewer test dialogues than this, and a bootstrap over them says nothing worth a verdict.
MIN_DIALOGUES_FOR_A_VERDICT = 10


def score_text(metrics: dict, name: str) -> str:
    """A score, with its 95% interval in brackets when the metrics hold one."""
    interval = (metrics.get("ci95") or {}).get(name)
    return f"{metrics[name]:.4f}" + (f" [{interval['low']:.4f}, {interval['high']:.4f}]" if interval else "")


def change_text(paired: dict) -> str:
    """A paired comparison's difference with its 95% interval."""
    return f"{paired['difference']:+.4f} [{paired['low']:+.4f}, {paired['high']:+.4f}]"


def p_value_text(p: float, resamples: int) -> str:
    """A bootstrap p-value: one of 0 reads "below one resample's weight", never 0."""
    return f"< {1 / resamples:.3g}" if p == 0 else f"{p:.3f}"


def summary_line(system: str, metrics: dict) -> str:
    """One console line of a system's headline scores."""
    scores = ", ".join(f"{name} {score_text(metrics, name)}" for name in ROUGE_TYPES)
    return f"{system} on {metrics['num_dialogues']} test dialogues: {scores}"


def comparison_line(comparison: dict) -> str:
    """One console line of the paired comparison, and its verdict on ROUGE-1."""
    resamples = comparison["resamples"]
    changes = "; ".join(f"{name} {change_text(comparison[name])} p {p_value_text(comparison[name]['p_value'], resamples)}"
                        for name in ROUGE_TYPES)
    return f"{FINETUNED} minus {BASELINE} on the same dialogues: {changes}. {verdict(comparison)}"


def verdict(comparison: dict, name: str = "rouge1") -> str:
    """What the paired comparison says on `name`, as a sentence: better, worse, not
    distinguishable at the 95% level, or that it cannot tell (too few dialogues, or an interval
    of zero width: every resample alike)."""
    paired, dialogues, resamples = comparison[name], comparison["num_dialogues"], comparison["resamples"]
    if dialogues < MIN_DIALOGUES_FOR_A_VERDICT:
        return (f"On {name}, the comparison cannot tell {FINETUNED} from {BASELINE}: only {dialogues} test "
                f"dialogue{'s' if dialogues != 1 else ''}, too few for a bootstrap to mean anything (it needs at least "
                f"{MIN_DIALOGUES_FOR_A_VERDICT}).")
    if paired["low"] == paired["high"]:
        return (f"On {name}, the comparison cannot tell {FINETUNED} from {BASELINE}: its 95% interval has zero width "
                f"(every resample of the {dialogues} dialogues gives the same difference).")
    relation = "better than" if paired["low"] > 0 else "worse than" if paired["high"] < 0 else "not distinguishable from"
    return (f"On {name}, {FINETUNED} is {relation} {BASELINE} at the 95% level: {change_text(paired)}, "
            f"p {p_value_text(paired['p_value'], resamples)} over {resamples:,} resamples of {dialogues} dialogues.")
