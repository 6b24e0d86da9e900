"""Unit tests of the fuzzy search index (pure, no stack)."""

from __future__ import annotations

from maratron_context.search import SearchIndex, SearchItem, query_words


def item(
    id: str,
    text: str,
    *,
    created: float,
    kind: str = "note",
    agent: str = "claude",
    visibility: str = "shared",
    session_id: str | None = None,
    expires_at: float | None = None,
) -> SearchItem:
    return SearchItem(
        item_type="memory",
        id=id,
        kind=kind,
        text=text,
        agent=agent,
        visibility=visibility,
        created_at=created,
        session_id=session_id,
        expires_at=expires_at,
    )


def build(*items: SearchItem) -> SearchIndex:
    index = SearchIndex()
    for it in items:
        index.add(it)
    return index


def ids(index: SearchIndex, query: str, **kw: object) -> list[str]:
    return [
        it.id
        for it, _ in index.search(
            query,
            agent=str(kw.pop("agent", "claude")),
            now=float(kw.pop("now", 0.0)),  # type: ignore[arg-type]
            **kw,  # type: ignore[arg-type]
        )
    ]


INDEX = build(
    item("goal", "Run the Berlin marathon under three hours", created=1, kind="goal"),
    item("injury", "Left Achilles tendon is sore after hill repeats", created=2, kind="injury"),
    item("shoes", "Prefers Nike Pegasus for easy runs", created=3, kind="preference"),
    item("race", "Berlin half marathon in March", created=4, kind="race"),
)


def test_misspelled_words_in_any_order_find_the_right_item_first() -> None:
    [(top, score), *_] = INDEX.search("tendon achiles", agent="claude", now=0)
    assert top.id == "injury" and 90 <= score < 100
    assert ids(INDEX, "marathn berlin")[:2] == ["race", "goal"]  # equal score: newest first
    assert ids(INDEX, "pegasuss")[0] == "shoes"
    assert ids(INDEX, "mara") == ["race", "goal"]  # a prefix counts


def test_three_letter_words_tolerate_a_missing_letter_not_a_wrong_one() -> None:
    index = build(
        item("knee", "Left knee pain after long runs", created=1, kind="injury"),
        item("hip", "Hip flexor tight on hills", created=2, kind="injury"),
    )
    assert ids(index, "kne pian") == ["knee"]  # a missing letter, a swapped pair
    assert ids(index, "hpi") == []  # three letters: no substitution or swap
    assert ids(index, "hi") == []  # two letters: exact only


def test_exact_match_scores_100_and_unrelated_text_nothing() -> None:
    [(_, score)] = INDEX.search("achilles tendon", agent="claude", now=0)
    assert score == 100.0
    assert INDEX.search("swimming pool", agent="claude", now=0) == []
    assert INDEX.search("zebra", agent="claude", now=0) == []
    assert INDEX.search("?!", agent="claude", now=0) == []


def test_filters_kind_session_visibility_expiry_and_limit() -> None:
    index = build(
        item("a", "knee pain", created=1, kind="injury", session_id="s1"),
        item("b", "knee pain", created=2, kind="note", session_id="s2"),
        item("c", "knee pain", created=3, agent="cursor", visibility="private"),
        item("d", "knee pain", created=4, expires_at=100.0),
    )
    assert ids(index, "knee pain") == ["d", "b", "a"]
    assert ids(index, "knee pain", agent="cursor") == ["d", "c", "b", "a"]
    assert ids(index, "knee pain", now=100.0) == ["b", "a"]
    assert ids(index, "knee pain", kind="injury") == ["a"]
    assert ids(index, "knee pain", session_id="s2") == ["b"]
    assert ids(index, "knee pain", limit=1) == ["d"]


def test_remove_and_replace() -> None:
    index = build(item("a", "tempo run", created=1), item("b", "tempo ride", created=2))
    index.remove("b")
    assert ids(index, "tempo") == ["a"] and len(index) == 1
    index.add(item("a", "long ride", created=3))
    assert ids(index, "tempo") == [] and ids(index, "ride") == ["a"]
    index.remove("missing")  # no error


def test_query_words_drop_stopwords_unless_nothing_else() -> None:
    assert query_words("What is my Goal, my goal?") == ["goal"]
    assert query_words("the") == ["the"]


def test_filtered_out_top_matches_do_not_hide_lower_visible_ones() -> None:
    index = build(
        *(
            item(f"p{i}", "knee pain", created=i, agent="other", visibility="private")
            for i in range(300)
        ),
        item("mine", "knee pains", created=0.5),
    )  # scores below the 300 others
    [(found, score)] = index.search("knee pain", agent="claude", now=0, limit=5)
    assert found.id == "mine" and 90 < score < 100
