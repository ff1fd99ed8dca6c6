"""The shared analysis: what documents and queries are turned into."""

import random

from archive.services.search.analysis import (
    BREAK,
    FILLER,
    Streams,
    literal_phrase,
    normalize,
    sparse_phrase,
    streams,
    tokens,
    units,
    words,
)


def test_normalize_folds_width_case_script_and_pdf_spacing():
    assert normalize("１２０１ ＡＢＣ") == "1201 abc"
    assert normalize("檔案 維修") == "档案维修"
    assert normalize("维 修\n记 录") == "维修记录"
    assert normalize("HT-2024 维修") == "ht-2024 维修"


def test_cjk_characters_give_unigrams_and_bigrams_at_their_positions():
    assert tokens("维修记录") == [("维", 0), ("维修", 0), ("修", 1), ("修记", 1), ("记", 2),
                                 ("记录", 2), ("录", 3)]


def test_punctuation_between_chinese_characters_breaks_the_run():
    assert ("修记", 1) not in tokens("维修，记录")
    assert literal_phrase("维修记录表").terms == ("维修记录", "修记录表")
    assert "修记录表" not in streams(["维修记录，表格"]).quad


def test_three_or_more_chinese_characters_are_matched_on_longer_grams():
    assert literal_phrase("维修记录") == ("quad", ("维修记录",))
    assert literal_phrase("认购书") == ("tri", ("认购书",))
    assert literal_phrase("认购") == ("bi", ("认购",))
    tri = streams(["认购书，合同"]).tri
    assert tri == ["认购书", FILLER, FILLER, FILLER, FILLER, FILLER]
    # Mixed with letters or digits, a literal stays on the bigram stream.
    assert literal_phrase("维修记录2024").stream == "bi"
    quad = streams(["维修记录表，ab认购书"]).quad
    # Every position holds the 4-gram starting there, or the filler: positions stay
    # aligned with the other streams.
    assert quad == ["维修记录", "修记录表", *[FILLER] * 7]
    assert len(quad) == len(streams(["维修记录表，ab认购书"]).uni)


def test_codes_split_into_parts_and_are_kept_whole_for_ranking():
    assert [t for t, _ in tokens("ht-2024-0031")] == ["ht", "2024", "0031"]
    assert "ht-2024-0031" in words("合同", "编号ht-2024-0031")


def test_a_lone_trailing_character_is_matched_on_units():
    assert literal_phrase("修").stream == "uni"
    assert literal_phrase("3栋") == ("uni", ("3", "栋"))
    assert literal_phrase("3栋2单元1201") == ("bi", ("3", "栋", "2", "单元", "元", "1201"))


def test_punctuation_only_is_not_searchable():
    assert literal_phrase("，。！") is None


def test_jieba_words_of_the_title_feed_ranking():
    assert {"认购", "认购书"} <= set(words("客户签署认购书", ""))


def test_sparse_phrase_keeps_every_unit_covered():
    def span(term):
        return len(term) if len(term) > 1 and all("\u4e00" <= ch <= "\u9fff" for ch in term) else 1

    def covered(pairs):
        return {unit for offset, term in pairs for unit in range(offset, offset + span(term))}

    for text in ["维修记录", "认购书", "维修记录表格", "物业服务中心记录", "3栋2单元1201",
                 "合同编号HT-2024-0031", "3栋维修记录"]:
        stream, terms = literal_phrase(text)
        pairs = sparse_phrase(terms)
        full = covered(list(enumerate(terms)))
        assert covered(pairs) == full, text
        assert len(pairs) <= len(terms)
    assert sparse_phrase(literal_phrase("3栋维修记录").terms) == [(0, "3"), (1, "栋维"), (3, "修记"),
                                                              (4, "记录")]
    assert sparse_phrase(literal_phrase("物业服务中心").terms) == [(0, "物业服务"), (2, "服务中心")]
    assert sparse_phrase(literal_phrase("物业服务中心记录").terms) == [(0, "物业服务"), (4, "中心记录")]


def _streams_by_definition(values):
    """The streams position by position, as the module docstring defines them."""
    out = {"uni": [], "bi": [], "tri": [], "quad": []}
    for value in values:
        found, cjk = units(value)
        if not found:
            continue
        if out["uni"]:
            for stream in out.values():
                stream.append(BREAK)
        for i, unit in enumerate(found):
            out["uni"].append(unit)
            for name, n in (("bi", 2), ("tri", 3), ("quad", 4)):
                gram = found[i:i + n]
                if len(gram) == n and all(cjk[i:i + n]):
                    out[name].append("".join(gram))
                else:
                    out[name].append(unit if name == "bi" else FILLER)
    return Streams(**out)


def test_streams_are_what_their_definition_says_for_any_text():
    rng = random.Random(7)
    alphabet = ("维修记录认购书物业服务中心档案檔案ア한𠀀" "ab1201HT-" "，。、（）_—"
                " \n\ue000\ue001１Ａ")
    for _ in range(3000):
        values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
                  for _ in range(rng.randint(1, 3))]
        values = [normalize(v) for v in values]
        assert streams(values) == _streams_by_definition(values), values
