"""The one prompt template, used for zero-shot, training inputs and evaluation."""


def build_prompt(template: str, dialogue: str) -> str:
    """Return the model input for one dialogue (`template` holds `{dialogue}`)."""
    return template.format(dialogue=dialogue)
