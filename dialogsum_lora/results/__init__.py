"""What evaluate makes of the scores: analysis, text, run (the one description of a run), report, plots, cards."""
