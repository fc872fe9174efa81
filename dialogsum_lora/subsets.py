"""Seeded subsets of a split: the training dialogues trained on (train.dialogues), the validation
dialogues scored while training, and the baseline's shots. Cheap to import (no torch), so the
baseline draws its shots without depending on the training code."""

import random


def seeded_subset(rows: list[dict], size: int | None, seed: int) -> list[dict]:
    """`size` rows drawn from `seed`, in the split's order; all of them if size is None or larger.

    The first `size` of one seeded shuffle: a smaller subset is part of every larger one of the same
    seed, so the points of a learning curve add data, never swap it.
    """
    if size is None or size >= len(rows):
        return rows
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    return [rows[i] for i in sorted(order[:size])]
