"""Scoring: DialogSum ROUGE (rouge), bootstrap intervals (bootstrap), the metrics written (metrics, dialogsum_rouge)."""
