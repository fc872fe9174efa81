"""params.yaml `prompt`: how a dialogue becomes model input, and how long a training summary may be."""

import string

from pydantic import field_validator

from dialogsum_lora.schema import Record, Text, setting


class PromptParams(Record):
    template: Text = setting("The one prompt for zero-shot, training and evaluation; must contain {dialogue}.")
    max_source_tokens: int = setting("Prompt tokens kept; longer prompts are cut (and counted).", ge=1, le=8192)
    max_target_tokens: int = setting(
        "Summary tokens kept as training labels; validation ROUGE generates at most this many.", ge=1, le=2048
    )

    @field_validator("template")
    @classmethod
    def _only_the_dialogue_field(cls, template: str) -> str:
        """The template's only replacement field is a plain {dialogue}, at least once."""
        try:
            fields = {(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(template)}
        except ValueError:  # a lone brace
            fields = None
        if fields is None or fields - {(None, None, None)} != {("dialogue", "", None)}:
            raise ValueError(
                "must contain the field {dialogue}, as is, and no other (no conversion, format, attribute or index; "
                f"write a literal brace as {{{{ or }}}}), got {template!r}"
            )
        return template
