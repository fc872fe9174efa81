"""params.yaml `data`: where the dialogues come from (read by prepare)."""

from dialogsum_lora.schema import Record, Text, setting


class DataParams(Record):
    source: Text = setting("Hugging Face dataset id, or a local directory (hub or DialogSum-authors layout).")
    revision: Text | None = setting("Hub commit, branch or tag to load; null for the default branch.")
