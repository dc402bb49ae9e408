"""Story merging: each layer, the evidence, and a replay of the labelled sets."""

from __future__ import annotations

import re

import pytest
from feedserver import now_rfc822, rss, static
from helpers import (
    DATA,
    SHIPPED_RULES,
    copy_shipped_rules,
    environment,
    in_process,
    run_once,
    write_feeds,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import merge
from bot.models import Item
from bot.replay import read_labelled, replay
from bot.rules.load import load_rules
from bot.urls import canonical_url

KINDS = {
    "nvidia": None,
    "china": "country",
    "united-states": "country",
    "japan": "country",
    "south-korea": "country",
    "gallium": "material",
}


LEXICON = load_rules(SHIPPED_RULES).ruleset.lexicon


def _f(
    title: str, summary: str = "", actors=(), rules=("chip-export",), outlet: str = "Wire"
) -> merge.Features:
    return merge.features(
        Item(feed_url="f", guid=title, title=title, summary=summary, outlet=outlet),
        frozenset(actors),
        rules,
        LEXICON,
    )


def _decide(
    item: merge.Features, *members: merge.Features, when: float | None = None, gap: float = 3600
):
    candidate = merge.Candidate(
        1,
        tuple(merge.Member(i + 10, m, published=0.0) for i, m in enumerate(members)),
        frozenset({"chip-export"}),
    )
    return merge.decide_story(
        item, [candidate], KINDS, when=gap if when is None else when, lexicon=LEXICON
    )


def _decide_rule(item: merge.Features, first: merge.Features, rule: str, gap: float = 3600):
    candidate = merge.Candidate(1, (merge.Member(10, first, published=0.0),), frozenset({rule}))
    return merge.decide_story(item, [candidate], KINDS, when=gap, lexicon=LEXICON)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://www.Example.com/a/b/?utm_source=rss&utm_medium=x#frag", "http://example.com/a/b"),
        ("https://m.example.com/story?id=7&fbclid=abc", "https://example.com/story?id=7"),
        ("https://example.com/story/amp/", "https://example.com/story"),
        ("https://example.com:443/x?b=2&a=1", "https://example.com/x?a=1&b=2"),
    ],
)
def test_canonical_links(a, b):
    assert canonical_url(a) == canonical_url(b)


def test_canonical_links_keep_what_identifies_the_page():
    assert canonical_url("https://example.com/story?id=7") != canonical_url(
        "https://example.com/story?id=8"
    )
    assert canonical_url("javascript:alert(1)") is None


def test_same_title_after_wire_prefixes_and_site_suffixes():
    original = _f("Washington moves to choke off China's access to advanced chips")
    for variant in (
        "UPDATE 2-Washington moves to choke off China's access to advanced chips",
        "Washington moves to choke off China's access to advanced chips | Tech News",
        "EXCLUSIVE-Washington moves to choke off China’s access to advanced chips - sources",
    ):
        decision = _decide(_f(variant, outlet="Daily"), original)
        assert decision.story_id == 1
        assert decision.evidence.layer is merge.Layer.SAME_TITLE


def test_the_same_title_from_the_same_outlet_is_a_new_document():
    first = _f("Additions to the Entity List", "The rule adds 16 entities in China.")
    second = _f("Additions to the Entity List", "The rule adds 80 entities in Russia and Iran.")
    decision = _decide(second, first, gap=50 * 3600)
    assert decision.evidence.layer is not merge.Layer.SAME_TITLE
    assert decision.story_id is None


def test_fuzzy_with_shared_evidence_joins():
    first = _f("Nvidia says H20 exports to China now need a licence", actors={"nvidia", "china"})
    second = _f("H20 licence rule leaves Nvidia facing $5.5 billion charge", actors={"nvidia"})
    decision = _decide(second, first)
    assert decision.story_id == 1
    assert decision.evidence.codes == ("h20",) and "nvidia" in decision.evidence.actors


def test_cross_language_joins_on_actors_and_numbers_not_on_language():
    english = _f(
        "YMTC, Cambricon among 36 Chinese names added to US Entity List",
        actors={"ymtc", "cambricon", "china"},
    )
    chinese = _f(
        "美国将长江存储、寒武纪等36家中国实体列入实体清单", actors={"ymtc", "cambricon", "china"}
    )
    assert _decide(chinese, english).story_id == 1
    unrelated = _f("美国商务部更新出口管制规则", actors={"china"})
    assert _decide(unrelated, english).story_id is None, "sharing a country is not enough"


def test_a_ban_and_its_lifting_are_different_stories():
    ban = _f("US will require licences for Nvidia H20 exports to China", actors={"nvidia", "china"})
    lift = _f(
        "US to grant licences for Nvidia H20 shipments to China after talks",
        actors={"nvidia", "china"},
    )
    decision = _decide(lift, ban)
    assert decision.story_id is None
    assert decision.score < merge.PARAMS.threshold


def test_different_numbers_in_titles_keep_stories_apart():
    first = _f("Commerce adds 36 Chinese firms to Entity List including YMTC", actors={"ymtc"})
    second = _f(
        "Commerce adds 12 Chinese firms to Entity List including Inspur units", actors={"inspur"}
    )
    assert _decide(second, first).story_id is None


def test_only_stories_of_a_shared_rule_are_joined():
    first = _f("Nvidia says H20 exports to China now need a licence", actors={"nvidia"})
    travel = _f(
        "Nvidia says H20 exports to China now need a licence",
        actors={"nvidia"},
        rules=("travel-guidance",),
    )
    assert _decide(travel, first).story_id is None


@pytest.mark.parametrize(
    ("text", "concepts"),
    [
        ("Beijing tells its AI bosses to skip American trips", {"executive", "avoid", "travel"}),
        ("傳北京叫AI大佬暫緩訪美　出行前須報備", {"executive", "avoid", "report-plans"}),
        ("Russland: Führungskräfte müssen Reisepässe abgeben", {"executive", "passport"}),
        ("Les Pays-Bas annoncent de futures restrictions", {"netherlands", "plan"}),
        ("ASML does not expect a material effect", set()),
        ("エンティティー・リストに追加", {"trade-list"}),
        ("수출 통제 강화", {"export-control"}),
    ],
)
def test_concepts_across_languages(text, concepts):
    found = LEXICON.concepts_in(text)
    assert concepts <= found
    if not concepts:
        assert "materials" not in found


def test_concepts_are_whole_words():
    assert "travel" not in LEXICON.concepts_in("A triplet of reports")
    assert "ban" not in LEXICON.concepts_in("Banks and bandwidth")


@given(st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_any_text_gives_known_concepts(text):
    assert LEXICON.concepts_in(text) <= LEXICON.concepts


TRAVEL = ("travel-guidance",)


def test_a_paraphrase_close_in_time_joins_on_its_gist():
    wire = _f(
        "Beijing urges top AI founders to stay out of the US",
        "Chinese authorities told leading AI entrepreneurs and researchers to avoid trips to "
        "the United States.",
        actors={"china", "united-states"},
        rules=TRAVEL,
    )
    retold = _f("Chinese tech founders warned over American visits", rules=TRAVEL)
    decision = _decide_rule(retold, wire, rule="travel-guidance")
    assert decision.story_id == 1
    assert decision.evidence.layer in (merge.Layer.GIST, merge.Layer.QUIET)
    assert "founder" in decision.evidence.shared
    late = _decide_rule(retold, wire, rule="travel-guidance", gap=3 * 86400)
    assert late.story_id is None, "the gist only counts close in time"


def test_headline_only_paraphrases_hours_apart_join_unless_something_contradicts():
    first = _f("Japan tightens export rules on advanced chips", actors={"japan"})
    retold = _f("Tokyo joins chip curbs", actors={"japan"})
    decision = _decide(retold, first, gap=3 * 3600)
    assert decision.story_id == 1
    assert decision.evidence.layer is merge.Layer.QUIET
    assert _decide(retold, first, gap=30 * 3600).story_id is None, "hours, not days"
    korea = _f("Seoul joins chip curbs", actors={"south-korea"})
    assert _decide(korea, first, gap=3 * 3600).story_id is None, "another government acting"


def test_another_government_acting_is_another_story():
    china = _f(
        "China asks chip executives to report overseas trips a month ahead",
        "Managers at state-backed semiconductor companies must file travel plans in advance.",
        actors={"china"},
        rules=TRAVEL,
    )
    korea = _f(
        "South Korea asks chip engineers to report trips to China in advance",
        "Engineers must notify the ministry before travelling to China.",
        actors={"china", "south-korea"},
        rules=TRAVEL,
    )
    assert china.subjects == {"china"} and korea.subjects == {"south-korea"}
    _, conflicts, veto = merge.contradictions(korea, china, KINDS, LEXICON)
    assert conflicts[merge.Conflict.SUBJECTS] == (("south-korea",), ("china",)) and veto
    assert _decide_rule(korea, china, rule="travel-guidance").story_id is None


def test_a_destination_is_not_who_acts():
    trips = _f("量子信息领域科研人员赴美等国交流须事先审批", rules=TRAVEL)
    assert trips.subjects == frozenset(), "赴美 names where they go"
    told = _f("China makes quantum researchers seek approval before US trips", rules=TRAVEL)
    assert told.subjects == {"china"}
    assert _decide_rule(told, trips, rule="travel-guidance").story_id == 1


def test_a_headline_naming_no_government_acting_shares_the_one_it_names():
    told = _f(
        "Russian officials and state-firm managers told to hand in passports",
        actors={"russia"},
        rules=TRAVEL,
    )
    acts = _f(
        "Russia tightens foreign travel for officials, state-company staff",
        actors={"russia"},
        rules=TRAVEL,
    )
    assert told.subjects == frozenset() and acts.subjects == {"russia"}
    assert merge.same_actor(told, acts, LEXICON) and merge.same_actor(acts, told, LEXICON)
    assert _decide_rule(told, acts, rule="travel-guidance").story_id == 1
    other = _f("China tightens foreign travel for officials", actors={"china"}, rules=TRAVEL)
    assert not merge.same_actor(told, other, LEXICON), "it names Russia, not China"


def test_a_country_a_firm_is_based_in_is_not_who_acts():
    based = _f("UAE-based firms among 11 added to US Entity List over chip diversion")
    assert based.subjects == frozenset(), "UAE-based names where the firms are"
    told = _f("US Blacklists 11 Firms in UAE, Singapore Over AI Chip Diversion to China")
    assert told.subjects == {"united-states"}
    assert _f("UAE adds 11 firms to its export control list").subjects == {"united-arab-emirates"}
    _, conflicts, veto = merge.contradictions(based, told, KINDS, LEXICON)
    assert merge.Conflict.SUBJECTS not in conflicts and not veto


def test_another_government_answering_is_a_story_of_its_own():
    measure = _f(
        "US will revoke visas of Chinese students in critical fields",
        actors={"united-states", "china"},
        rules=TRAVEL,
    )
    answer = _f("外交部回应美方吊销中国留学生签证：已向美方提出严正交涉", rules=TRAVEL)
    _, conflicts, _ = merge.contradictions(answer, measure, KINDS, LEXICON)
    assert conflicts[merge.Conflict.FACET] == (("act:reaction",), ("act:action",))
    assert _decide_rule(answer, measure, rule="travel-guidance").story_id is None
    company = _f("TSMC responds to report of US export penalty, says it follows the rules")
    _, conflicts, _ = merge.contradictions(
        company, _f("TSMC faces US export penalty"), KINDS, LEXICON
    )
    assert merge.Conflict.FACET not in conflicts, "a company answering is part of the story"


def test_headlines_about_different_companies_are_different_stories():
    samsung = _f(
        "US revokes waivers for Samsung, SK Hynix to ship chip tools to China plants",
        actors={"samsung", "sk-hynix"},
    )
    tsmc = merge.features(
        Item(
            feed_url="f",
            guid="t",
            title="US revokes TSMC Nanjing's fast-track status for chip tools",
            summary="The move follows last week's decision on Samsung and SK Hynix plants.",
        ),
        frozenset({"tsmc", "samsung", "sk-hynix"}),
        ("chip-export",),
        LEXICON,
        title_actors=frozenset({"tsmc"}),
    )
    _, conflicts, veto = merge.contradictions(tsmc, samsung, {**KINDS, "tsmc": "company"}, LEXICON)
    assert conflicts[merge.Conflict.ACTORS] == (("tsmc",), ("samsung", "sk-hynix")) and veto
    assert _decide(tsmc, samsung).story_id is None


def test_to_lift_is_to_lift_a_restriction():
    passed = _f(
        "China's AI capacity-building text clears the General Assembly", rules=("ai-summit",)
    )
    adopted = _f("联大协商一致通过中国主提的加强人工智能能力建设国际合作决议", rules=("ai-summit",))
    _, conflicts, _ = merge.contradictions(adopted, passed, KINDS, LEXICON)
    assert merge.Conflict.DIRECTION not in conflicts


def test_sharing_only_broad_words_is_not_a_story():
    tools = _f(
        "Japan adds 23 chipmaking tools to its export control list",
        "Tokyo will require licences for exports of advanced semiconductor equipment to China.",
        actors={"japan", "china"},
    )
    materials = _f(
        "Japan tightens export controls on chip materials bound for China",
        actors={"japan", "china"},
    )
    _, conflicts, _ = merge.contradictions(materials, tools, KINDS, LEXICON)
    assert conflicts[merge.Conflict.FACET] == (("goods:materials",), ("goods:tools",))
    assert _decide(materials, tools).story_id is None


@pytest.mark.parametrize(
    ("text", "dates"),
    [
        ("effective Sept. 1", {"09-01"}),
        ("from Aug. 1, citing", {"08-01"}),
        ("9月1日起生效", {"09-01"}),
        ("2026年2月在新德里", {"2026-02"}),
        ("on Feb. 19-20, 2026", {"02-19"}),
        ("February 2026 dates", {"2026-02"}),
        ("Ab 1. September benötigen", {"09-01"}),
        ("le 1er septembre", {"09-01"}),
        ("9월 1일부터", {"09-01"}),
        ("up 5% in May", set()),
    ],
)
def test_dates(text, dates):
    assert merge.dates_in(text, LEXICON.wording) == dates


def test_distinct_stories_on_the_same_day_stay_apart():
    ruleset = load_rules(SHIPPED_RULES).ruleset
    result = replay(read_labelled(DATA / "distinct_same_day.jsonl"), ruleset, "sqlite://")
    report = result.report()
    assert report["swallowed"] == []
    assert report["wrongly_merged_items"] == 0
    assert report["with_own_alert"] == report["events"] == 22
    assert report["duplicate_alerts"] == 0, "the Chinese report of X02 joins it"


def _told_twice(tmp_path, feed_server, first: dict, second: dict, outlets: tuple[str, str]):
    """Run once over two feeds of one item each, the second a retelling of the first: one
    alert, one follow-up. Returns the environment and `radar stories` output."""
    url_a = feed_server.set("/a.xml", static(rss([first])))
    url_b = feed_server.set("/b.xml", static(rss([second])))
    feeds = write_feeds(
        tmp_path / "feeds.yaml",
        [{"url": url_a, "name": outlets[0]}, {"url": url_b, "name": outlets[1]}],
        defaults={"baseline": False},
    )
    env = environment(tmp_path, copy_shipped_rules(tmp_path / "rules"), feeds)
    _, printed = run_once(env)
    assert [p["kind"] for p in printed].count("alert") == 1
    assert [p["kind"] for p in printed].count("followup") == 1
    listing = in_process(["stories"], env)
    assert listing.returncode == 0
    return env, listing.stdout


def test_stories_command_explains_each_merge(tmp_path, feed_server):
    first = {
        "title": "YMTC, Cambricon among 36 Chinese names added to US Entity List",
        "link": "https://wire.example.com/a",
        "guid": "a",
        "pubDate": now_rfc822(-3600),
    }
    second = {
        "title": "美国将长江存储、寒武纪等36家中国实体列入实体清单",
        "link": "https://cn.example.com/b",
        "guid": "b",
        "pubDate": now_rfc822(-600),
    }
    env, listing = _told_twice(tmp_path, feed_server, first, second, ("Wire", "环球科技报"))
    assert "2 items" in listing and "Wire" in listing and "环球科技报" in listing
    story_id = listing.split()[0].lstrip("#")
    shown = in_process(["stories", "show", story_id], env)
    assert "opened the story" in shown.stdout
    assert "joined: score" in shown.stdout
    assert "actors: cambricon, china, ymtc" in shown.stdout or "actors: cambricon" in shown.stdout
    assert "numbers: 36" in shown.stdout


def test_a_retelling_in_other_words_is_a_followup_explained_by_its_gist(tmp_path, feed_server):
    wire = {
        "title": "Beijing urges top AI founders to stay out of the US, newspaper reports",
        "description": "Chinese authorities have told leading artificial intelligence "
        "entrepreneurs and researchers to avoid trips to the United States unless essential.",
        "link": "https://wire.example.com/founders",
        "guid": "w1",
        "pubDate": now_rfc822(-7200),
    }
    retold = {
        "title": "Chinese tech founders warned over American visits",
        "link": "https://business.example.net/founders-warned",
        "guid": "b1",
        "pubDate": now_rfc822(-600),
    }
    env, listing = _told_twice(tmp_path, feed_server, wire, retold, ("Wire", "Business News"))
    shown = in_process(["stories", "show", listing.split()[0].lstrip("#")], env).stdout
    assert re.search(r"; (gist|close in time, nothing contradicting); about: [^;]*founder", shown)
    assert re.search(r"of its gist told: \d+%", shown)


def test_a_rare_name_is_evidence_across_languages():
    summit = "ai-summit"
    english = _f("Nordic-Baltic AI leaders' summit opens in Tallinn", rules=(summit,))
    german = _f(
        "KI-Gipfel in Tallinn: Nordische und baltische Staaten beraten über Rechenzentren",
        rules=(summit,),
    )
    assert "tallinn" in english.codes and "tallinn" in german.codes
    assert "staaten" not in german.codes, "a common noun, capitalised as German writes nouns"
    assert _decide_rule(german, english, rule=summit, gap=4800).story_id == 1
    other = _f(
        "KI-Gipfel in Kigali: Afrikanische Staaten beraten über Rechenzentren", rules=(summit,)
    )
    assert _decide_rule(other, english, rule=summit, gap=4800).story_id is None


def test_stored_features_another_version_wrote_are_left_out_not_fatal(caplog):
    from bot.pipeline import _stored_features

    stored = _f("Japan adds 23 chipmaking tools to its export control list", actors={"japan"})
    assert _stored_features(7, stored.to_json()) == stored
    assert _stored_features(7, None) is None
    assert _stored_features(7, {"title_key": "an older layout"}) is None
    assert "item 7: stored merge features unreadable" in caplog.text


def test_one_government_acting_on_other_countries_is_another_story():
    china = _f("Japan curbs chip tool exports to China", actors={"japan", "china"})
    russia = _f("Japan curbs chip tool exports to Russia", actors={"japan", "russia"})
    decision = _decide(russia, china)
    assert decision.story_id is None
    _, conflicts, veto = merge.contradictions(russia, china, KINDS, LEXICON)
    assert veto and conflicts[merge.Conflict.TARGETS] == (("russia",), ("china",))
    joined = _f(
        "Tokyo joins US-led chip curbs on China", actors={"japan", "united-states", "china"}
    )
    assert _decide(joined, china, gap=3 * 3600).story_id == 1, "the same country acted on"
