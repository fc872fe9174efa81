"""params.yaml `full`: full fine-tuning (`method: full`)."""

from dialogsum_lora.schema import Record, setting


class FullParams(Record):
    learning_rate: float = setting(
        "Peak learning rate when every weight trains, in place of train.learning_rate (the adapters'): "
        "moving all weights at an adapter's rate would undo what the base model learnt.",
        gt=0,
        le=1,
    )
