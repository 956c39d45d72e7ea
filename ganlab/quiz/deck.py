"""Deck building: which images a participant sees, in which order (pure functions).

A deck is drawn once, when the participant joins, and stored; reloading the page serves the
same deck. The draw is random (no hand-picking) and reproducible: the generator is seeded
from the quiz seed and the participant's nickname, so the researcher can rebuild any deck.

Single mode (HYPE-infinity): every trial is real or fake with probability 1/2, independently,
so the number of fakes in a deck is Binomial(n, 1/2) and differs from person to person (nothing
tells the participant the ratio). An exactly balanced deck could be beaten by counting: someone
who learns which earlier images were fake (from feedback, or from an adaptive exposure) knows
what is left. With independent trials, knowing every earlier truth says nothing about the next.
Pair mode: every trial has one real and one fake image; the real one is on the left with
probability 1/2, independently per trial, for the same reason. With several generator sources
the fakes are split as evenly as the count allows (a random source gets the odd one). No image
appears twice in one deck.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass

import numpy as np

from ganlab.quiz.errors import QuizError

MODES = ("single", "pair")
# Join codes avoid look-alikes (0/O, 1/I/L) so a class can read one off a projector.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
NICKNAME_MIN, NICKNAME_MAX = 2, 24
# Letters (any script), digits, space, '.', '_' and '-'; must start with a letter or digit
# (this also keeps spreadsheet formulas such as "=cmd" out of the CSV export).
NICKNAME_PATTERN = re.compile(r"^[^\W_][\w .\-]*$")


@dataclass(frozen=True)
class TrialSpec:
    """One trial of a deck (server side only; the client never sees this)."""

    practice: bool
    truth: str  # single: "real" | "fake";  pair: "left" | "right" (where the real image is)
    source: str  # the generator pool of the fake image; "real" for a single-mode real trial
    image_a: tuple[str, int]  # (pool, index): the image (single) or the left image (pair)
    image_b: tuple[str, int] | None  # the right image (pair); None in single mode


def new_join_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: object) -> str:
    """Accept what people type ("7kq 2xd", "7KQ-2XD") and return the canonical code."""
    if not isinstance(code, str):
        raise QuizError("the quiz code must be text, e.g. 7KQ2XD")
    cleaned = re.sub(r"[\s\-]", "", code).upper()
    if len(cleaned) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in cleaned):
        raise QuizError(f"{code!r} is not a quiz code; codes are {CODE_LENGTH} letters and digits, e.g. 7KQ2XD")
    return cleaned


def normalise_nickname(nickname: object) -> tuple[str, str]:
    """Return (nickname as shown, key for uniqueness); raise QuizError if it is not acceptable."""
    if not isinstance(nickname, str):
        raise QuizError("the nickname must be text")
    shown = " ".join(unicodedata.normalize("NFC", nickname).split())
    if not NICKNAME_MIN <= len(shown) <= NICKNAME_MAX:
        raise QuizError(f"the nickname must be {NICKNAME_MIN}-{NICKNAME_MAX} characters long; got {len(shown)}")
    if not NICKNAME_PATTERN.match(shown):
        raise QuizError("the nickname may use letters, digits, spaces, '.', '_' and '-', and must start with a letter or digit")
    return shown, shown.casefold()


def images_needed(mode: str, deck_size: int, practice_trials: int, n_sources: int) -> tuple[int, int]:
    """(real images, fake images from the busiest source) that one deck may draw from the pools, at most.

    A single-mode deck may (rarely) be all real or all fake, so the pools must cover either; a pair
    deck uses one real and one fake image per trial."""
    reals = deck_size + practice_trials
    per_source = -(-deck_size // n_sources) + -(-practice_trials // n_sources)
    return reals, per_source


def deck_rng(seed: int, participant_key: str) -> np.random.Generator:
    """Reproducible generator for one participant of one quiz."""
    digest = hashlib.sha256(participant_key.encode("utf-8")).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, seed >> 32, *words]))


def _split_fakes(n_fakes: int, sources: list[str], rng: np.random.Generator) -> list[str]:
    """n_fakes source labels, as evenly split over sources as possible, in random order."""
    base, extra = divmod(n_fakes, len(sources))
    lucky = set(rng.choice(len(sources), size=extra, replace=False).tolist()) if extra else set()
    labels = [s for i, s in enumerate(sources) for _ in range(base + (i in lucky))]
    return [labels[i] for i in rng.permutation(len(labels))]


def build_deck(
    *,
    mode: str,
    deck_size: int,
    practice_trials: int,
    real_pool: tuple[str, int],
    sources: list[tuple[str, int]],
    seed: int,
    participant_key: str,
) -> list[TrialSpec]:
    """Draw a participant's deck: practice trials first, then the scored trials.

    real_pool and sources are (pool name, pool size); indices are drawn without replacement
    per pool, so no image repeats within the deck.
    """
    if mode not in MODES:
        raise QuizError(f"mode must be one of {MODES}; got {mode!r}")
    if not sources:
        raise QuizError("a quiz needs at least one generator source")
    rng = deck_rng(seed, participant_key)
    source_names = [name for name, _ in sources]
    sizes = dict(sources)
    real_name, real_size = real_pool

    # The truth of every trial, drawn independently (see the module docstring): single mode, is it
    # a fake; pair mode, is the real image on the right.
    parts = [(practice_trials, True), (deck_size, False)]
    coins = {practice: rng.random(n) < 0.5 for n, practice in parts}
    # Which source each fake comes from, for the practice part and the scored part separately
    # (so the scored part alone is balanced over sources).
    fakes = {practice: int(coins[practice].sum()) if mode == "single" else n for n, practice in parts}
    part_sources = {practice: _split_fakes(fakes[practice], source_names, rng) for _, practice in parts}
    n_real = sum(n - fakes[practice] if mode == "single" else n for n, practice in parts)
    real_indices = iter(rng.choice(real_size, size=n_real, replace=False).tolist())
    fake_indices = {}
    for name in source_names:
        needed = sum(labels.count(name) for labels in part_sources.values())
        fake_indices[name] = iter(rng.choice(sizes[name], size=needed, replace=False).tolist())

    deck: list[TrialSpec] = []
    for _, practice in parts:
        fake_refs = iter([(name, next(fake_indices[name])) for name in part_sources[practice]])
        if mode == "single":
            for is_fake in coins[practice]:
                if is_fake:
                    ref = next(fake_refs)
                    deck.append(TrialSpec(practice, "fake", ref[0], ref, None))
                else:
                    deck.append(TrialSpec(practice, "real", "real", (real_name, next(real_indices)), None))
        else:
            for on_right, fake_ref in zip(coins[practice], fake_refs, strict=True):
                side = "right" if on_right else "left"
                real_ref = (real_name, next(real_indices))
                left, right = (real_ref, fake_ref) if side == "left" else (fake_ref, real_ref)
                deck.append(TrialSpec(practice, side, fake_ref[0], left, right))
    return deck
