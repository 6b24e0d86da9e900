"""Typo- and word-order-tolerant search over an athlete's memory items and exchanges (pure).

Why a word index rather than `process.extract` over whole texts: scoring every text with a
whole-string scorer (WRatio, token_set_ratio) costs 25-70 ms for 10,000 texts on this
hardware, over the 50 ms budget before the HTTP layer's ~6 ms. Instead the index keeps the
athlete's vocabulary (distinct words, a few thousand at most) and a posting list per word.
A query word is matched against the vocabulary with `rapidfuzz.process.extract(fuzz.ratio,
score_cutoff=...)` (typos), and items gather, per query word, the best similarity of any of
their words (word order is irrelevant). An item's score is the mean over the query's words, 0-100,
so "achiles tendon" finds "Left Achilles tendon is sore" at ~96. Matching is O(vocabulary +
postings of the matched words), about a millisecond for 10,000 items.

The index is built incrementally (`add` / `remove`) from the projection's per-athlete change
log, see `queries.MemorySearch`.
"""

from __future__ import annotations

import re
from bisect import bisect_left, insort
from dataclasses import dataclass, field
from operator import itemgetter

from rapidfuzz import fuzz, process

_WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "i", "in",
    "is", "it", "its", "me", "my", "of", "on", "or", "our", "so", "the", "their", "them", "to",
    "was", "we", "were", "what", "when", "which", "who", "will", "with", "you", "your",
})  # fmt: skip
MIN_SCORE = 50.0
"""An item must match at least this mean similarity (e.g. half the query's words exactly)."""
PREFIX_SCORE = 90.0
"""Similarity given to a vocabulary word that starts with the query word."""


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def query_words(query: str) -> list[str]:
    """Distinct words of a query, stopwords dropped unless nothing else is left."""
    found = list(dict.fromkeys(words(query)))
    content = [w for w in found if w not in STOPWORDS]
    return content or found


def word_cutoff(word: str) -> float:
    """Similarity a vocabulary word needs to count as the query word (very short words:
    exact; three letters: one missing letter, "kne" -> "knee", but no substitution)."""
    if len(word) <= 2:
        return 100.0
    if len(word) == 3:
        return 85.0
    if len(word) <= 5:
        return 75.0  # one typo or a swapped pair in 4-5 letters
    return 70.0


@dataclass(frozen=True, slots=True)
class SearchItem:
    item_type: str  # "memory" | "exchange"
    id: str
    kind: str  # a memory kind, or "exchange"
    text: str
    agent: str
    visibility: str  # "shared" | "private"
    created_at: float  # epoch seconds
    session_id: str | None = None
    expires_at: float | None = None

    def visible_to(self, agent: str) -> bool:
        return self.visibility == "shared" or self.agent == agent

    def live_at(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass
class SearchIndex:
    items: dict[str, SearchItem] = field(default_factory=dict)
    vocabulary: list[str] = field(default_factory=list)
    _word_ids: dict[str, int] = field(default_factory=dict)
    _sorted_words: list[str] = field(default_factory=list)  # for prefix lookups by bisection
    _postings: list[set[str]] = field(default_factory=list)
    _item_words: dict[str, list[int]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: SearchItem) -> None:
        if item.id in self.items:
            self.remove(item.id)
        self.items[item.id] = item
        ids: list[int] = []
        word_ids, postings = self._word_ids, self._postings
        for w in set(words(item.text)):
            wid = word_ids.get(w)
            if wid is None:
                wid = word_ids[w] = len(self.vocabulary)
                self.vocabulary.append(w)
                insort(self._sorted_words, w)
                postings.append(set())
            postings[wid].add(item.id)
            ids.append(wid)
        self._item_words[item.id] = ids

    def remove(self, item_id: str) -> None:
        # Vocabulary words stay (an empty posting list matches nothing): cheaper than compaction.
        self.items.pop(item_id, None)
        for wid in self._item_words.pop(item_id, ()):
            self._postings[wid].discard(item_id)

    def _matches(self, qword: str) -> dict[int, float]:
        """vocabulary id -> similarity, for the words close enough to `qword`."""
        found: dict[int, float] = {
            wid: score
            for _, score, wid in process.extract(
                qword,
                self.vocabulary,
                scorer=fuzz.ratio,
                score_cutoff=word_cutoff(qword),
                limit=None,
            )
        }
        if len(qword) >= 3:  # a prefix counts too: "injur" -> "injury", "kne" -> "knee"
            sorted_words = self._sorted_words
            at = bisect_left(sorted_words, qword)
            while at < len(sorted_words) and sorted_words[at].startswith(qword):
                wid = self._word_ids[sorted_words[at]]
                found[wid] = max(found.get(wid, 0.0), PREFIX_SCORE)
                at += 1
        return found

    def _scores(self, qwords: list[str]) -> dict[str, float]:
        """item id -> sum over query words of the best similarity among the item's words."""
        total: dict[str, float] = {}
        for qword in qwords:
            best: dict[str, float] = {}
            # ascending similarity: a better word of the same item overwrites (C-level updates)
            for wid, score in sorted(self._matches(qword).items(), key=itemgetter(1)):
                best.update(dict.fromkeys(self._postings[wid], score))
            if not total:
                total = best
                continue
            get = total.get
            for item_id, score in best.items():
                total[item_id] = get(item_id, 0.0) + score
        return total

    def search(
        self,
        query: str,
        *,
        agent: str,
        now: float,
        limit: int = 10,
        kind: str | None = None,
        session_id: str | None = None,
        min_score: float = MIN_SCORE,
    ) -> list[tuple[SearchItem, float]]:
        """Best matches first (score, then newest), visible to `agent` and not expired."""
        qwords = query_words(query)
        if not qwords or not self.items:
            return []
        n = len(qwords)
        scores = self._scores(qwords)
        # Rank only the best few: the score of the `window`-th best candidate bounds the ones
        # worth sorting (C-level sort of floats, then a small tuple sort). Filters may reject
        # some, so the window grows until `limit` matches are found or candidates run out.
        ordered = sorted(scores.values(), reverse=True)
        floor, window = min_score * n, max(4 * limit, 64)
        while True:
            bound = max(floor, ordered[window - 1] if window <= len(ordered) else floor)
            out = self._ranked(scores, bound, n, agent, now, limit, kind, session_id)
            if len(out) >= limit or bound <= floor:
                return out
            window *= 4

    def _ranked(
        self,
        scores: dict[str, float],
        bound: float,
        n: int,
        agent: str,
        now: float,
        limit: int,
        kind: str | None,
        session_id: str | None,
    ) -> list[tuple[SearchItem, float]]:
        items = self.items
        ranked = sorted(
            (
                (total, items[item_id].created_at, item_id)
                for item_id, total in scores.items()
                if total >= bound
            ),
            reverse=True,
        )
        out: list[tuple[SearchItem, float]] = []
        for total, _, item_id in ranked:
            item = items[item_id]
            if (
                (kind is not None and item.kind != kind)
                or (session_id is not None and item.session_id != session_id)
                or not item.visible_to(agent)
                or not item.live_at(now)
            ):
                continue
            out.append((item, round(total / n, 1)))
            if len(out) >= limit:
                break
        return out
