"""params.yaml `model`: the base model (read by baseline, finetune and evaluate)."""

from dialogsum_lora.schema import Record, Text, setting


class ModelParams(Record):
    name: Text = setting("Hugging Face model id, or a local directory with config, tokenizer and safetensors weights.")
    revision: Text | None = setting("Hub commit, branch or tag to load; null for the default branch.")
