"""The commands a user runs by hand (console scripts, or `python -m dialogsum_lora.commands.X`); see arguments.py."""
