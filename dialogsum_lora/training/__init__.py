"""Fine-tuning: the Trainer and its callbacks (trainer), resumable checkpoints (checkpoints), validation ROUGE
(validation)."""
