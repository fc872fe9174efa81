"""Seeded subsets of a split: train.dialogues', validation ROUGE's and the baseline's shots. Cheap to import."""

import random


def seeded_subset(rows: list[dict], size: int | None, seed: int) -> list[dict]:
    """`size` rows drawn from `seed`, in the split's order (all if size is None or larger); a smaller subset is
    part of every larger one of the same seed, so the points of a learning curve add data, never swap it."""
    if size is None or size >= len(rows):
        return rows
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)  # the first `size` of one seeded shuffle
    return [rows[i] for i in sorted(order[:size])]
