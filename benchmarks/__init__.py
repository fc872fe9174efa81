"""Benchmarks of the pipeline's training and generation code (not part of `dvc repro`)."""
