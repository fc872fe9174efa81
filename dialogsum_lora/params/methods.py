"""params.yaml's method sections: what finetune trains when `method` is lora, ia3 or full."""

from pydantic import Field, ValidationInfo, field_validator

from dialogsum_lora.schema import Record, Text, setting


class LoraParams(Record):
    """`lora`: the LoRA adapter."""

    r: int = setting("LoRA rank.", ge=1, le=1024)
    alpha: float = setting("LoRA scaling numerator (the update is scaled by alpha / r).", gt=0, le=4096)
    dropout: float = setting("Dropout on the LoRA input.", ge=0, lt=1)
    target_modules: list[Text] | None = Field(
        description="Names of the linear layers that get adapters (T5: q, k, v, o, wi_0, wi_1, wo; Llama, Qwen: "
        "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj); null: peft's default for the architecture.",
        min_length=1,
    )


class IA3Params(Record):
    """`ia3`: peft's IA3 adapter (a learned vector rescales the keys, values and feed-forward activations)."""

    target_modules: list[Text] | None = Field(
        description="Names of the linear layers whose outputs (or, for feed-forward ones, inputs) are rescaled "
        "(T5: q, k, v, o, wi_0, wi_1, wo); null, with feedforward_modules null: peft's default for the architecture.",
        min_length=1,
    )
    feedforward_modules: list[Text] | None = Field(
        description="Which of target_modules are feed-forward layers: their inputs are rescaled, not their outputs."
    )

    @field_validator("feedforward_modules")
    @classmethod
    def _among_targets(cls, modules: list[str] | None, info: ValidationInfo) -> list[str] | None:
        targets = info.data.get("target_modules", modules)  # absent when target_modules itself was refused
        if (modules is None) != (targets is None):
            raise ValueError("and ia3.target_modules must both be null (peft's default layers) or both be lists")
        outside = sorted(set(modules or ()) - set(targets or ()))
        if outside:
            raise ValueError(
                f"names {outside[0]!r}, which is not in ia3.target_modules {targets}: peft rescales only target modules"
            )
        return modules


class FullParams(Record):
    """`full`: full fine-tuning, every weight."""

    learning_rate: float = setting(
        "Peak learning rate when every weight trains, in place of train.learning_rate (the adapters'): "
        "moving all weights at an adapter's rate would undo what the base model learnt.",
        gt=0,
        le=1,
    )
