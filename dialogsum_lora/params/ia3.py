"""params.yaml `ia3`: the IA3 adapter finetune trains when `method` is ia3 (peft's IA3: a learned vector rescales
the keys, values and feed-forward activations)."""

from pydantic import Field, ValidationInfo, field_validator

from dialogsum_lora.schema import Record, Text


class IA3Params(Record):
    target_modules: list[Text] = Field(
        description="Names of the linear layers whose outputs (or, for feed-forward ones, inputs) are rescaled "
        "(T5: q, k, v, o, wi_0, wi_1, wo).",
        min_length=1,
    )
    feedforward_modules: list[Text] = Field(
        description="Which of target_modules are feed-forward layers: their inputs are rescaled, not their outputs."
    )

    @field_validator("feedforward_modules")
    @classmethod
    def _among_targets(cls, modules: list[str], info: ValidationInfo) -> list[str]:
        targets = info.data.get("target_modules", modules)  # absent when target_modules itself was refused
        outside = sorted(set(modules) - set(targets))
        if outside:
            raise ValueError(
                f"names {outside[0]!r}, which is not in ia3.target_modules {targets}: peft rescales only target modules"
            )
        return modules
