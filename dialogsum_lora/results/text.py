"""How results read on the console, in report.md and in the model cards: scores, intervals, p-values and what a
comparison can tell; text in markdown is written as text, never as markup."""

import re

from dialogsum_lora.paths import BASELINE, FINETUNED
from dialogsum_lora.scoring.rouge import ROUGE_TYPES

# Fewer test dialogues than this, and a bootstrap over them says nothing worth a verdict.
MIN_DIALOGUES_FOR_A_VERDICT = 10
# CommonMark lets any ASCII punctuation be backslash-escaped; these can start markup (emphasis, links, headings,
# lists, tables, HTML, entities, code, and the $ of the math that GitHub and many viewers render).
_MARKUP = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>&~=:$])")


def as_text(text: str) -> str:
    """`text` on one markdown line, shown as itself: nothing in it is read as markup."""
    return _MARKUP.sub(r"\\\1", " ".join(text.split()))


def as_code_block(text: str, language: str = "") -> list[str]:
    """`text` as a fenced code block whose fence no run of backticks inside can close."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return [fence + language, text, fence]


def score_text(metrics: dict, name: str) -> str:
    interval = (metrics.get("ci95") or {}).get(name)
    return f"{metrics[name]:.4f}" + (f" [{interval['low']:.4f}, {interval['high']:.4f}]" if interval else "")


def change_text(paired: dict) -> str:
    return f"{paired['difference']:+.4f} [{paired['low']:+.4f}, {paired['high']:+.4f}]"


def p_value_text(comparison: dict, name: str) -> str:
    """A p-value of 0 reads "below one resample's weight", never 0; "n/a" when the comparison cannot tell."""
    if undecidable(comparison, name):
        return "n/a"
    p, resamples = comparison[name]["p_value"], comparison.get("resamples")
    if p == 0:  # below one resample's weight, or (Student's t) below the 6 digits kept
        return f"< {1 / resamples:.3g}" if resamples else "< 1e-06"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def prompting_text(shots: int) -> str:
    return f"{shots}-shot" if shots else "zero-shot"


def summary_line(system: str, metrics: dict) -> str:
    scores = ", ".join(f"{name} {score_text(metrics, name)}" for name in ROUGE_TYPES)
    return f"{system} on {metrics['num_dialogues']} test dialogues: {scores}"


def comparison_line(comparison: dict) -> str:
    changes = "; ".join(
        f"{name} {change_text(comparison[name])} p {p_value_text(comparison, name)}" for name in ROUGE_TYPES
    )
    return f"{FINETUNED} minus {BASELINE} on the same dialogues: {changes}. {verdict(comparison)}"


def undecidable(comparison: dict, name: str) -> str | None:
    """Why the paired comparison cannot tell the systems apart on `name`, or None."""
    dialogues = comparison["num_dialogues"]
    if dialogues < MIN_DIALOGUES_FOR_A_VERDICT:
        return (
            f"only {dialogues} test dialogue{'s' if dialogues != 1 else ''}, too few for a bootstrap to mean "
            f"anything (it needs at least {MIN_DIALOGUES_FOR_A_VERDICT})"
        )
    if comparison[name]["low"] == comparison[name]["high"]:
        return (
            f"its 95% interval has zero width (every resample of the {dialogues} dialogues gives the same difference)"
        )
    return None


def verdict(
    comparison: dict, name: str = "rouge1", candidate: str = FINETUNED, other: str = BASELINE, evidence: str = ""
) -> str:
    """Whether `candidate` is better than, worse than or not distinguishable from `other` on `name` at the 95% level,
    or that the comparison cannot tell; `evidence`: where the interval comes from (default: the resamples)."""
    reason = undecidable(comparison, name)
    if reason:
        return f"On {name}, the comparison cannot tell {candidate} from {other}: {reason}."
    paired, dialogues = comparison[name], comparison["num_dialogues"]
    relation = (
        "better than" if paired["low"] > 0 else "worse than" if paired["high"] < 0 else "not distinguishable from"
    )
    evidence = evidence or f"{comparison['resamples']:,} resamples of {dialogues} dialogues"
    return (
        f"On {name}, {candidate} is {relation} {other} at the 95% level: {change_text(paired)}, "
        f"p {p_value_text(comparison, name)} over {evidence}."
    )
