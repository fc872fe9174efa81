"""The commands a user runs by hand (console scripts, also `python -m dialogsum_lora.commands.X`): score, summarise,
export, experiments, demo, tiny_model; their shared command-line pieces are in arguments."""
