"""Deck building: independent truths, random, no repeats, reproducible; codes and nicknames."""

from collections import Counter

import pytest

from ganlab.quiz.deck import (
    CODE_ALPHABET,
    build_deck,
    images_needed,
    new_join_code,
    normalise_code,
    normalise_nickname,
)
from ganlab.quiz.errors import QuizError


def deck(mode="single", deck_size=40, practice=4, sources=(("gen-a", 500),), key="ada", seed=3):
    return build_deck(
        mode=mode,
        deck_size=deck_size,
        practice_trials=practice,
        real_pool=("real", 500),
        sources=list(sources),
        seed=seed,
        participant_key=key,
    )


def test_single_deck_draws_each_truth_independently_without_repeats():
    trials = deck()
    assert len(trials) == 44
    assert all(t.practice for t in trials[:4]) and not any(t.practice for t in trials[4:])
    refs = [t.image_a for t in trials]
    assert len(set(refs)) == len(refs)
    for t in trials:
        assert t.image_b is None
        assert (t.image_a[0] == "real") == (t.truth == "real")
        assert t.source == t.image_a[0]
    # The number of fakes is Binomial(40, 1/2): it varies between participants (so nobody can
    # count on a ratio), and over many decks it averages half.
    fakes = [sum(t.truth == "fake" for t in deck(key=f"p{i}")[4:]) for i in range(300)]
    assert len(set(fakes)) > 5
    assert abs(sum(fakes) / len(fakes) - 20) < 1
    # Knowing every earlier truth says nothing about the next one: P(fake | previous fake) = 1/2.
    after_fake = [
        b.truth == "fake" for i in range(300) for a, b in zip(deck(key=f"p{i}")[4:], deck(key=f"p{i}")[5:]) if a.truth == "fake"
    ]
    assert abs(sum(after_fake) / len(after_fake) - 0.5) < 0.03


def test_pair_deck_has_one_real_and_one_fake_on_a_random_side():
    trials = deck(mode="pair", deck_size=20, practice=2)
    for t in trials:
        real_ref, fake_ref = (t.image_a, t.image_b) if t.truth == "left" else (t.image_b, t.image_a)
        assert real_ref[0] == "real" and fake_ref[0] == t.source == "gen-a"
    refs = [r for t in trials for r in (t.image_a, t.image_b)]
    assert len(set(refs)) == len(refs)
    lefts = [sum(t.truth == "left" for t in deck(mode="pair", deck_size=20, key=f"p{i}")[4:]) for i in range(200)]
    assert len(set(lefts)) > 4 and abs(sum(lefts) / len(lefts) - 10) < 1


def test_reproducible_per_participant_and_different_between_them():
    assert deck(key="ada") == deck(key="ada")
    assert deck(key="ada") != deck(key="bob")
    assert deck(seed=3) != deck(seed=4)


def test_sources_split_evenly():
    sources = (("gen-a", 300), ("gen-b", 300), ("gen-c", 300))
    counts = Counter()
    for key in ("a", "b", "c", "d", "e", "f"):
        scored = [t for t in deck(deck_size=20, practice=0, sources=sources, key=key) if t.truth == "fake"]
        per_deck = Counter(t.source for t in scored)
        assert max(per_deck.values()) - min(per_deck[s] for s, _ in sources) <= 1  # as even as the count allows
        counts += per_deck
    assert set(counts) == {"gen-a", "gen-b", "gen-c"}


def test_images_needed_covers_the_most_lopsided_deck():
    assert images_needed("single", 20, 4, 1) == (24, 24)  # a deck may (rarely) be all real or all fake
    assert images_needed("single", 20, 4, 3) == (24, 7 + 2)
    assert images_needed("pair", 20, 0, 2) == (20, 10)
    for key in range(200):  # the pools it asks for are always enough
        assert len(deck(deck_size=20, practice=4, sources=(("gen-a", 24),), key=str(key))) == 24


def test_codes_and_nicknames():
    code = new_join_code()
    assert len(code) == 6 and set(code) <= set(CODE_ALPHABET)
    assert not set("01OIL") & set(CODE_ALPHABET)
    assert normalise_code(" 7kq-2xd ") == "7KQ2XD"
    for bad in ("7KQ2X", "7KQ2XDD", "7KQ2X0", 123456, None):
        with pytest.raises(QuizError):
            normalise_code(bad)
    assert normalise_nickname("  Ada   Lovelace ") == ("Ada Lovelace", "ada lovelace")
    assert normalise_nickname("Zoë_2")[1] == "zoë_2"
    for bad in ("a", "x" * 25, "=cmd()", "-rf", "<script>", "", None, 5, "ab\x00"):
        with pytest.raises(QuizError):
            normalise_nickname(bad)
