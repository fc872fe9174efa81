"""params.yaml `lora`: the LoRA adapter finetune trains."""

from pydantic import Field

from dialogsum_lora.schema import Record, Text, setting


class LoraParams(Record):
    r: int = setting("LoRA rank.", ge=1, le=1024)
    alpha: float = setting("LoRA scaling numerator (the update is scaled by alpha / r).", gt=0, le=4096)
    dropout: float = setting("Dropout on the LoRA input.", ge=0, lt=1)
    target_modules: list[Text] = Field(
        description="Names of the linear layers that get adapters (T5: q, k, v, o, wi_0, wi_1, wo).", min_length=1
    )
