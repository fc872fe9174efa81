"""What evaluate makes of the scores: the comparison with the baseline (analysis), how results
read (text), the one description of a run (run), report.md (report), the plots (plots), the
model cards (cards), text as markdown (markdown)."""
