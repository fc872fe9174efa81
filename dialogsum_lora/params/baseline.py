"""params.yaml `baseline`: how the base model alone is prompted (the baseline evaluate compares with)."""

from dialogsum_lora.errors import UserError
from dialogsum_lora.params import Seed
from dialogsum_lora.schema import Record, setting


class BaselineParams(Record):
    # Its own seed, not the training one: a sweep over `seed` retrains without making the same
    # zero-shot summaries again for each run.
    seed: Seed = setting("Draws the shots and the baseline's bootstrap resamples (the top-level `seed` trains).")
    # 64: more than fit in prompt.max_source_tokens' largest bound (8,192 tokens: about 40 DialogSum shots).
    shots: int = setting(
        "Training dialogues, each with its summary, put before every test dialogue's prompt (the same ones for every "
        "dialogue, drawn from `baseline.seed`); 0 for zero-shot.",
        ge=0,
        le=64,
    )

    def check(self, split_dialogues: int) -> None:
        """Refuse more shots than the training split has."""
        if self.shots > split_dialogues:
            raise UserError(
                f"params.yaml: baseline.shots is {self.shots}, but the training split has "
                f"{split_dialogues:,} dialogues: set it to at most that (0 for zero-shot)"
            )
