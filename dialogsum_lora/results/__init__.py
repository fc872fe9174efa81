"""What evaluate makes of the scores: the comparison with the baseline (analysis), how results
read, as text and in markdown (text), the one description of a run (run), report.md (report), the
plots (plots), the model cards (cards)."""
