"""One input of a front from a chooser: a seed, the side mutated (v2's file, or now and then v1's), the
mutations. The same choices give the same input, so a campaign input is replayed from its number."""

from __future__ import annotations

import hashlib
import random

from fuzzkit.contract import Input
from fuzzkit.mutate import Chooser, RandomChooser, mutate
from fuzzkit.seeds import donors, seeds


def make_input(front: str, ch: Chooser) -> Input:
    pool = seeds(front)
    seed = pool[ch.int(0, len(pool) - 1)]
    side = "head"
    if seed.base is not None and seed.target in seed.base_files() and ch.int(0, 7) == 7:
        side = "base"
    original = seed.base_files()[seed.target] if side == "base" else seed.data
    data, notes = mutate(ch, original, front, donors(front))
    return Input(front, seed, data, side, tuple(notes))


def campaign_input(front: str, seed: int, index: int) -> Input:
    """Input `index` of the campaign with random seed `seed` (replayable one by one)."""
    rng = random.Random(f"{seed}:{front}:{index}")
    return make_input(front, RandomChooser(rng))


def describe(inp: Input) -> str:
    digest = hashlib.sha256(inp.data).hexdigest()[:12]
    return (f"{inp.front} seed={inp.seed.name} side={inp.side} file={inp.seed.target} bytes={len(inp.data)} "
            f"sha={digest} edits={'; '.join(inp.notes)}")
