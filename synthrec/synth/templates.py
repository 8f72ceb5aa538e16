"""The paper's sentence templates, one family of item-text templates per dataset.

Every function takes already-rendered SIDs (`SemanticIds.render`, which goes
through `synthrec.sids.tokens`) and returns one sentence. Missing item fields
drop their clause instead of leaving a hole ("released in nan").
"""

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from synthrec.errors import SynthrecError

UIH_PREFIX = "A user interacted with the following sequence of items: "
MAX_GENRES = 5
MAX_TAGS = 5

_TRAILING_YEAR = re.compile(r"\s*\((\d{4})\)\s*$")
_TRAILING_ARTICLE = re.compile(r"^(.*), (The|A|An|Les|La|Le|Il|Das|Der|Die|El)$")


# ---------------------------------------------------------------------------
# Field helpers: every one returns None for a missing or empty value


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and np.isnan(value):
        return False
    if value is pd.NA or value is pd.NaT:
        return False
    return not (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str | None:
    return str(value).strip() if _present(value) else None


def _as_list(value: Any, separators: str = "|") -> list[str]:
    """A list of clean strings from a list/array or a separated string."""
    if isinstance(value, (list, tuple, np.ndarray)):
        parts = [str(v) for v in value if _present(v)]
    elif _present(value):
        parts = re.split("|".join(re.escape(s) for s in separators), str(value))
    else:
        return []
    return [p.strip() for p in parts if p.strip() and not p.strip().startswith("(no ")]


def _join_words(words: Sequence[str]) -> str:
    """a | a and b | a, b and c."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def clean_title(title: Any, year: Any = None) -> str | None:
    """Drop a trailing '(1995)' and move a trailing ', The' to the front."""
    text = _text(title)
    if text is None:
        return None
    text = _TRAILING_YEAR.sub("", text)
    match = _TRAILING_ARTICLE.match(text)
    if match:
        text = f"{match.group(2)} {match.group(1)}"
    return text or None


def _year(row: dict[str, Any]) -> int | None:
    year = row.get("year")
    if _present(year):
        return int(year)
    match = _TRAILING_YEAR.search(str(row.get("title") or ""))
    return int(match.group(1)) if match else None


# ---------------------------------------------------------------------------
# Item text: one template per dataset family


def item_text_movielens(sid: str, row: dict[str, Any]) -> str:
    """This item <SID> is described as <title>, released in <year>, in the
    genres <g1>, <g2> and <g3>, tagged <t1> and <t2>."""
    title = clean_title(row.get("title")) or "an untitled movie"
    clauses = [f"This item {sid} is described as {title}"]
    year = _year(row)
    if year is not None:
        clauses.append(f"released in {year}")
    genres = _as_list(row.get("genres"))[:MAX_GENRES]
    if genres:
        noun = "genre" if len(genres) == 1 else "genres"
        clauses.append(f"in the {noun} {_join_words(genres)}")
    tags = _as_list(row.get("tags"), "|,")[:MAX_TAGS]
    if tags:
        clauses.append(f"tagged {_join_words(tags)}")
    return ", ".join(clauses) + "."


def item_text_amazon(sid: str, row: dict[str, Any]) -> str:
    """The paper's template: This item <SID> is described as <title>, by
    <brand> in <cat1> › <cat2> › <cat3>."""
    title = _text(row.get("title")) or "an untitled product"
    sentence = f"This item {sid} is described as {title}"
    brand = _text(row.get("brand"))
    categories = _as_list(row.get("categories"), "|>›")[:3]
    if brand:
        sentence += f", by {brand}"
    if categories:
        sentence += f"{',' if not brand else ''} in {' › '.join(categories)}"
    return sentence + "."


def item_text_generic(sid: str, row: dict[str, Any]) -> str:
    """This item <SID> is described as <title>."""
    title = _text(row.get("title")) or _text(row.get("text")) or "an untitled item"
    return f"This item {sid} is described as {title}."


ITEM_TEMPLATES: dict[str, Callable[[str, dict[str, Any]], str]] = {
    "movielens": item_text_movielens,
    "amazon": item_text_amazon,
    "generic": item_text_generic,
}


def pick_item_template(name: str, columns: Sequence[str]) -> str:
    """Resolve 'auto' from the item table's columns; check explicit names."""
    if name == "auto":
        if "genres" in columns or "year" in columns:
            return "movielens"
        if "brand" in columns or "categories" in columns:
            return "amazon"
        return "generic"
    if name not in ITEM_TEMPLATES:
        raise SynthrecError(
            f"unknown item template {name!r}; choose one of {', '.join(ITEM_TEMPLATES)}"
        )
    return name


# ---------------------------------------------------------------------------
# CF rules and histories


def cf_rule_sentence(sid_a: str, sid_b: str, confidence: float, lift: float) -> str:
    """When a user interacts with item <A>, there is a 4.9% probability they
    will also interact with item <B> (confidence: 0.049, lift: 652.45)"""
    return (
        f"When a user interacts with item {sid_a}, there is a {100 * confidence:.1f}% "
        f"probability they will also interact with item {sid_b} "
        f"(confidence: {confidence:.3f}, lift: {lift:.2f})"
    )


def uih_sentence(sids: Sequence[str]) -> str:
    """A user interacted with the following sequence of items: <SID>, <SID>, ..."""
    return UIH_PREFIX + ", ".join(sids)


__all__ = [
    "ITEM_TEMPLATES",
    "UIH_PREFIX",
    "cf_rule_sentence",
    "clean_title",
    "item_text_amazon",
    "item_text_generic",
    "item_text_movielens",
    "pick_item_template",
    "uih_sentence",
]
