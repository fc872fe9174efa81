"""The models: the base model and tokenizer (base), the adapter (adapter), the offline run's tiny T5 (tiny)."""
