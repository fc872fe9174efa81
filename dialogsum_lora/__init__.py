"""Stages of the DVC pipeline (one script each) and the modules they share."""
