"""params.yaml `analysis`: how sure the scores are, and ROUGE per topic (baseline and evaluate)."""

from dialogsum_lora.schema import Record, setting


class AnalysisParams(Record):
    resamples: int = setting("Bootstrap resamples for the 95% intervals and the paired test.", ge=1, le=100_000)
    min_topic_dialogues: int = setting(
        "ROUGE is reported per topic for topics with at least this many test dialogues.", ge=1, le=10_000_000
    )
