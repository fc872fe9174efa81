"""Fine-tuning: the Trainer, its callbacks and resumable checkpoints (trainer)."""
