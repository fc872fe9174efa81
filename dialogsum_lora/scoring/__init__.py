"""Scoring: ROUGE as published DialogSum numbers compute it (rouge), bootstrap intervals and paired comparisons
(bootstrap), the metrics a stage writes (metrics), and the same as an `evaluate` metric module (dialogsum_rouge/)."""
