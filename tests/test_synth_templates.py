"""Sentence templates: the paper's shapes, and no broken sentences."""

import numpy as np
import pandas as pd
import pytest

from synthrec.errors import SynthrecError
from synthrec.lm.tokenizer import count_tokens
from synthrec.sids.tokens import render_sid
from synthrec.synth.templates import (
    cf_rule_sentence,
    item_text_amazon,
    item_text_generic,
    item_text_movielens,
    pick_item_template,
    uih_sentence,
)

SID_A = render_sid([6594, 5411])
SID_B = render_sid([12, 904])


def test_cf_rule_sentence_matches_the_paper_example():
    text = cf_rule_sentence(SID_A, SID_B, 0.049, 652.45)
    assert text == (
        f"When a user interacts with item {SID_A}, there is a 4.9% probability they "
        f"will also interact with item {SID_B} (confidence: 0.049, lift: 652.45)"
    )


def test_uih_sentence_lists_items_in_order():
    assert uih_sentence([SID_A, SID_B]) == (
        f"A user interacted with the following sequence of items: {SID_A}, {SID_B}"
    )


def test_movielens_item_text_uses_year_genres_and_tags():
    row = {
        "title": "Matrix, The (1999)",
        "year": 1999,
        "genres": "Action|Sci-Fi",
        "tags": "cyberpunk|philosophy",
    }
    assert item_text_movielens(SID_A, row) == (
        f"This item {SID_A} is described as The Matrix, released in 1999, in the "
        "genres Action and Sci-Fi, tagged cyberpunk and philosophy."
    )


@pytest.mark.parametrize(
    "row",
    [
        {"title": "Heat", "year": pd.NA, "genres": "(no genres listed)", "tags": None},
        {"title": "Heat", "year": np.nan, "genres": "", "tags": float("nan")},
        {"title": "Heat"},
    ],
)
def test_missing_movielens_fields_drop_their_clause(row):
    assert item_text_movielens(SID_A, row) == f"This item {SID_A} is described as Heat."


def test_a_missing_title_still_gives_a_sentence():
    text = item_text_movielens(SID_A, {"title": None, "genres": "Drama"})
    assert (
        text
        == f"This item {SID_A} is described as an untitled movie, in the genre Drama."
    )


def test_amazon_item_text_is_the_paper_template():
    row = {
        "title": "Trail Shoe",
        "brand": "Acme",
        "categories": ["Sports", "Shoes", "Trail"],
    }
    assert item_text_amazon(SID_A, row) == (
        f"This item {SID_A} is described as Trail Shoe, by Acme in Sports › Shoes › Trail."
    )
    assert item_text_amazon(SID_A, {"title": "Trail Shoe"}) == (
        f"This item {SID_A} is described as Trail Shoe."
    )
    assert item_text_generic(SID_A, {"text": "a shoe"}) == (
        f"This item {SID_A} is described as a shoe."
    )


def test_auto_template_follows_the_item_columns_and_unknown_names_fail():
    assert pick_item_template("auto", ["item_idx", "title", "genres"]) == "movielens"
    assert pick_item_template("auto", ["item_idx", "title", "brand"]) == "amazon"
    assert pick_item_template("auto", ["item_idx", "title"]) == "generic"
    with pytest.raises(SynthrecError, match="unknown item template"):
        pick_item_template("books", [])


def test_sid_tokens_are_whole_tokens_in_the_count():
    # prefix words + per item (<RECTOKEN>, 2 codes, </RECTOKEN>) + 1 comma + eos
    text = uih_sentence([SID_A, SID_B])
    prefix = 9 + 1  # "A user interacted with the following sequence of items" ":"
    assert count_tokens([text])[0] == prefix + 2 * 4 + 1 + 1
