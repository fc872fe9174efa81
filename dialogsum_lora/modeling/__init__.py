"""The models: the base model and tokenizer (base), the LoRA adapter (adapter), the tiny T5 of the offline run
(tiny)."""
