"""params.yaml `data`: where the dialogues come from, and which split and column holds what (read by prepare)."""

from typing import Annotated

from pydantic import BeforeValidator

from dialogsum_lora.schema import Record, Text, setting


class Splits(Record):
    train: Text = setting("The training split: a hub split's name, or a file of the directory (name or stem).")
    validation: Text = setting("The split validated on while training (as train).")
    test: Text = setting("The split baseline and evaluate score (as train).")


class Columns(Record):
    id: Text = setting("The column of each dialogue's id (text or an integer).")
    dialogue: Text = setting("The column of the dialogue's text.")
    # One name or several: a list either way, so that a mistake is one message, not one per kind.
    summary: Annotated[list[Text], BeforeValidator(lambda name: [name] if isinstance(name, str) else name)] = setting(
        "The reference summary's column, or a list of several (one reference each; train and validation take the "
        "first). One name also reads its numbered columns (summary1, summary2, ...) where the test split has them.",
        min_length=1,
    )
    topic: Text | None = setting("The topic's column (numbered as summary's), or null for none.")


class DataParams(Record):
    source: Text = setting("Hugging Face dataset id, or a local directory of .jsonl, .csv or .parquet splits.")
    revision: Text | None = setting("Hub commit, branch or tag to load; null for the default branch.")
    splits: Splits | None = setting("Which split is which; null for DialogSum's (docs/pipeline.md).")
    columns: Columns | None = setting("Which column holds what; null for DialogSum's (docs/pipeline.md).")
