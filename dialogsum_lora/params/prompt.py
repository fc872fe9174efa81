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
            fields = [
                (name, spec, conversion)
                for _, name, spec, conversion in string.Formatter().parse(template)
                if name is not None
            ]
        except ValueError as error:  # a lone brace
            raise ValueError(
                f"is not a valid template ({error}; write a literal brace as {{{{ or }}}}): {template!r}"
            ) from None
        for name, spec, conversion in fields:
            if (name, spec, conversion) != ("dialogue", "", None):
                written = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
                raise ValueError(
                    "may contain only the field {dialogue}, as is (no conversion, format, attribute or index; write "
                    f"a literal brace as {{{{ or }}}}), got {written} in {template!r}"
                )
        if not fields:
            raise ValueError(f"must contain {{dialogue}}, got {template!r}")
        return template
