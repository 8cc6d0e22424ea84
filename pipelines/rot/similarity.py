"""Text similarity for rot detection: tokens, shingles, bottom-k sketches.

Two measures, both in 0-1:

* :func:`text_similarity`: Jaccard similarity of the word shingles of two
  texts held in memory (a source page against its site's probe page);
* :func:`sketch_similarity`: the same Jaccard similarity estimated from two
  bottom-k sketches (:func:`sketch`), which is what the state keeps of the
  first version of a page instead of its text.

Tokens are case-folded words; characters of scripts written without spaces
(Chinese, Japanese, Thai, ...) are one token each, so the same measures work
for every language. Sizes are bounded: only the first ``MAX_TEXT_CHARS``
characters count.
"""

from __future__ import annotations

import hashlib
import heapq
import re
import unicodedata
from collections.abc import Iterable, Sequence

#: characters of a text that count (the preview is at most a few thousand)
MAX_TEXT_CHARS = 20_000
#: shingle size. Five words keep "same vocabulary, other document" apart: two
#: different texts built from one site's stock phrases share a quarter of
#: their 3-word shingles but a tenth of their 5-word ones, while an article
#: edited in place keeps well over half of either.
SHINGLE_WORDS = 5
#: hashes a sketch keeps; 64 gives a Jaccard estimate within about +-0.06
#: (one standard error at J=0.5) in 256 bytes per source
SKETCH_SIZE = 64
_HASH_BYTES = 4

# A word, or one character of a script written without spaces between words.
_TOKEN = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f\uac00-\ud7af]"
    r"|[^\W_]+",
    re.UNICODE,
)
# Separators between a page's headline and its site name in a <title>.
_TITLE_SEPARATORS = re.compile(
    r"\s+[|\-\u2013\u2014\u00b7:\u2022/]+\s+|\s*[|\u2014\u00b7\u2022]\s*"
)


def normalise(text: str) -> str:
    """Case-fold and NFKC-normalise ``text`` (bounded to ``MAX_TEXT_CHARS``)."""
    return unicodedata.normalize("NFKC", text[:MAX_TEXT_CHARS]).casefold()


def tokens(text: str | None) -> list[str]:
    """The word tokens of a text (see the module docstring)."""
    if not text:
        return []
    return _TOKEN.findall(normalise(text))


def shingles(words: Sequence[str], size: int = SHINGLE_WORDS) -> set[str]:
    """The set of ``size``-word shingles; a text shorter than that is its one shingle."""
    if not words:
        return set()
    if len(words) <= size:
        return {" ".join(words)}
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float | None:
    """Size of the intersection over size of the union; None when both sets are empty."""
    if not a and not b:
        return None
    return len(a & b) / len(a | b)


def text_similarity(a: str | None, b: str | None, *, ignore: Iterable[str] = ()) -> float | None:
    """Jaccard similarity of the shingles of two texts; None when both are empty.

    Words in ``ignore`` (the words of each page's own URL, say, which a
    not-found page often repeats) are dropped first. Texts of fewer than 20
    words are compared word by word: one differing word among ten would
    otherwise change half of their shingles.
    """
    dropped = set(ignore)
    wa = [w for w in tokens(a) if w not in dropped]
    wb = [w for w in tokens(b) if w not in dropped]
    size = SHINGLE_WORDS if min(len(wa), len(wb)) >= 20 else 1
    return jaccard(shingles(wa, size), shingles(wb, size))


#: shingle size for comparing two pages held in memory (a source and its
#: site's probe page): short texts need shorter shingles to stay comparable
OVERLAP_SHINGLE_WORDS = 3


def text_overlap(a: str | None, b: str | None, *, ignore: Iterable[str] = ()) -> float | None:
    """Overlap coefficient of two texts' 3-word shingles: |A∩B| / min(|A|, |B|).

    Measured against the smaller text, so a template page whose rotating
    part ("you might like: ...") or an extraction that kept a menu on one
    side adds words still matches itself. Words in ``ignore`` are dropped
    first; texts of fewer than 20 words are compared word by word. None when
    either text has no words.
    """
    dropped = set(ignore)
    wa = [w for w in tokens(a) if w not in dropped]
    wb = [w for w in tokens(b) if w not in dropped]
    if not wa or not wb:
        return None
    size = OVERLAP_SHINGLE_WORDS if min(len(wa), len(wb)) >= 20 else 1
    sa, sb = shingles(wa, size), shingles(wb, size)
    return len(sa & sb) / min(len(sa), len(sb))


def sketch(text: str | None) -> bytes | None:
    """A bottom-k sketch of the text's shingles: the ``SKETCH_SIZE`` smallest hashes, packed.

    Each hash is the first ``_HASH_BYTES`` of the shingle's BLAKE2b digest,
    read big-endian. None for a text without words. Not reversible: the
    state keeps this, not the text.
    """
    found = shingles(tokens(text))
    if not found:
        return None
    # Digests of one length compare as bytes the way their big-endian values
    # compare as numbers, so they are ranked as they come, without a
    # conversion to int and back for each of a page's hundreds of shingles.
    blake2b = hashlib.blake2b
    digests = {blake2b(s.encode("utf-8"), digest_size=_HASH_BYTES).digest() for s in found}
    return b"".join(sorted(heapq.nsmallest(SKETCH_SIZE, digests)))


def _unpack(data: bytes) -> set[int]:
    usable = len(data) - len(data) % _HASH_BYTES
    return {int.from_bytes(data[i : i + _HASH_BYTES], "big") for i in range(0, usable, _HASH_BYTES)}


def sketch_similarity(a: bytes | None, b: bytes | None) -> float | None:
    """Estimated Jaccard similarity of the texts two sketches came from; None if one is missing.

    The standard bottom-k estimator: of the k smallest hashes of the union of
    both sketches, the share that is in both.
    """
    if not a or not b:
        return None
    sa, sb = _unpack(a), _unpack(b)
    if not sa or not sb:
        return None
    # Valid while k is at most either sketch's size: every one of the union's
    # k smallest hashes that belongs to a text is then in that text's sketch.
    k = min(SKETCH_SIZE, len(sa), len(sb))
    union = heapq.nsmallest(k, sa | sb)
    both = sum(1 for h in union if h in sa and h in sb)
    return both / len(union)


def _char_grams(text: str) -> set[str]:
    joined = " ".join(tokens(text))
    if len(joined) < 3:
        return {joined} if joined else set()
    return {joined[i : i + 3] for i in range(len(joined) - 2)}


def title_similarity(expected: str | None, actual: str | None) -> float | None:
    """How well a page's title matches the title a sources list gives it (0-1).

    Character-trigram Dice similarity (robust to inflections and word order
    within words), taken at its best over the whole page title and each of
    its parts split on the separators sites put between headline and site
    name ("Headline | Site"), so a site name does not lower the score.
    """
    if not expected or not actual:
        return None
    want = _char_grams(expected)
    if not want:
        return None
    candidates = [actual, *(_TITLE_SEPARATORS.split(actual))]
    best = 0.0
    for candidate in candidates:
        grams = _char_grams(candidate)
        if not grams:
            continue
        best = max(best, 2 * len(want & grams) / (len(want) + len(grams)))
    return best
