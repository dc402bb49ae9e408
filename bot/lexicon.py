"""Concepts for story merging: what a news item is about, in words any language may use.

Two reports of one event often share no wording ("AI bosses told to skip American trips",
"中国要求AI企业家避免赴美") but they share concepts: founders or executives, avoiding travel,
the United States. `concepts_in` reduces a text to the concepts it names, so that merging can
compare paraphrases and translations; `weight` says how much sharing a concept counts (what
every story of a topic mentions counts least).

Forms are folded like the rule engine folds text (lower case, no Latin diacritics). In Latin
script a form is a word or a phrase; `*` at its end or start stands for any letters there
("passport*", "*erklarung*" for German compounds). A form in Chinese, Japanese or Korean is
found anywhere in the text. Concepts named after an actor id (`china`, `united-states`) add
what the actor file leaves out on purpose, such as demonyms ("Chinese", "赴美").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.text import is_cjk_char, tokenize

# concept -> forms, separated by "|".
CONCEPTS: dict[str, str] = {
    # -- countries, as demonyms and in CJK compounds (ids are the actor ids) -------------
    "china": "china|beijing|prc|chinese|mainland|中美|对华|對華|中方|赴华|赴華|华为|大陆|大陸|赴陆|赴陸|中資|中资|陆委会",
    "united-states": "us|usa|america|washington|commerce department|american|americans|赴美|访美|訪美|美英|中美|美方|对美|對美|美国|美國|米国|미국",
    "netherlands": "netherlands|the hague|pays bas|la haye|dutch|veldhoven|荷兰|荷蘭|オランダ|neerlandais*|niederland*",
    "united-kingdom": "uk|britain|london|british|britain's|美英|英国|英國",
    "russia": "russia|俄罗斯|俄羅斯|russian|kremlin|moscow|俄|ロシア|russland|russe*|moskau*",
    "taiwan": "taiwan|taiwanese|taipei|台湾|台灣|臺灣",
    "japan": "japan|japanese|tokyo|日本|japonais*",
    "india": "india|indian|new delhi|印度|インド|inde|indien",
    "south-korea": "south korea|korea|korean|seoul|韩国|韓國|한국|韩|韓|coree*|sudkorea*",
    "germany": "germany|german|berlin|德国|德國|allemagne|deutschland|deutsch*",
    "france": "france|french|paris|法国|法國|巴黎|パリ|francais*|franzosisch*",
    # -- travel -----------------------------------------------------------------------
    "travel": (
        "travel*|trip|trips|visit|visits|visiting|visited|abroad|overseas|fly|flights|"
        "heading to|going abroad|voyage*|deplacement*|*reise*|出行|出境|出访|出訪|出国|出國|"
        "出差|访|訪|赴|渡航|出張|海外|출국|출장|방문"
    ),
    "avoid": (
        "avoid*|skip|stay out|should not|not to travel|refrain*|cancel*|避免|暂缓|暫緩|非必要|"
        "勿|控え|자제|eviter|vermeid*"
    ),
    "report-plans": (
        "report plans|report overseas|file travel plans|file trip plans|file their plans|"
        "paperwork|notify|in advance|ahead|debrief*|报备|報備|报告行程|報告行程|届け出|提前|"
        "事前|신고|declarer|melden"
    ),
    "permission": (
        "approval*|permission|permit|permits|sign off|authoris*|authoriz*|licence*|license*|"
        "licensing|许可|許可|批准|审批|審批|申请|申請|承認|허가|승인|genehmigung*|"
        "autorisation*|licences"
    ),
    "passport": "passport*|*reisepass*|passeport*|护照|護照|パスポート|여권",
    "hand-in": "hand in|surrender*|deposit*|abgeb*|上交|上缴|上繳|交出|remettre",
    "founder": (
        "founder*|entrepreneur*|创始人|創始人|創辦人|创办人|企业家|企業家|創業者|창업자|"
        "fondateur*|grunder*"
    ),
    "researcher": (
        "researcher*|scientist*|expert*|talent|研究人员|研究人員|科学家|科學家|专家|專家|"
        "人才|研究者|연구원|chercheur*|forscher*|wissenschaftler*"
    ),
    "executive": (
        "executive*|manager*|boss*|chief*|ceo|ceos|senior staff|高管|负责人|負責人|大佬|"
        "幹部|経営者|임원|dirigeant*|cadre*|fuhrungskraft*"
    ),
    "engineer": "engineer*|personnel|工程师|工程師|技术人员|技術者|엔지니어|ingenieur*",
    "defence": (
        "defence|defense|arms|military|weapon*|军工|軍工|国防|國防|防衛|軍事|*rustung*|armement*"
    ),
    "state-owned": (
        "state owned|state backed|state controlled|state funded|government backed|国有|國有|"
        "国营|國營|政府补助|政府補助|국영|staatlich*"
    ),
    "robot": "robot*|humanoid*|机器人|機器人|ロボット|로봇|roboter*",
    "startup": "start up|start ups|startup*|初创|初創|新創|スタートアップ|스타트업",
    "widen": "widen*|extend*|expand*|broaden*|reaches|扩大|擴大|扩展|擴展|覆盖|拡大|확대|ausweit*",
    "warn": "warn*|caution*|advisory|guidance|提醒|警告|提示|경고|avertiss*|warnung*",
    # -- chips and export controls ------------------------------------------------------
    "chip": (
        "chip*|semiconductor*|integrated circuit*|芯片|晶片|半导体|半導體|半導体|"
        "반도체|puce*|semi conducteur*|halbleiter*|*chip*"
    ),
    "equipment": (
        "equipment|tool|tools|machine|machines|fab tools|lithograph*|deposition|immersion|duv|"
        "euv|设备|設備|装置|光刻|装備|장비|equipement*|*anlage*|*maschine*|lithografie*"
    ),
    "export-control": (
        "export control*|export rule*|export curb*|export licen*|export regulation*|出口管制|"
        "出口管理|輸出規制|수출 통제|controle a l export*|controles a l export*|exportkontroll*|exportregel*|"
        "ausfuhr*"
    ),
    "entity-list": (
        "entity list|unverified list|blacklist*|实体清单|實體清單|未经核实清单|"
        "エンティティー リスト|liste noire|schwarze liste"
    ),
    "materials": ("materials|photoresist*|fluoride*|材料|原材料|素材|소재|materiaux|*materialien"),
    "tier": "tier*|three tier|三级|三級|等级|等級|三个等级|三個等級|stufe*",
    "cap": "cap|caps|capped|ceiling*|quota*|上限|obergrenze*|*deckel*|plafond*",
    "publish": (
        "publish*|issue|issues|issued|release|released|unveil*|announc*|发布|發布|公布|出台|"
        "宣布|erlass*|veroffentlich*|publie*"
    ),
    "take-effect": "effective|take effect|takes effect|生效|施行|in kraft|en vigueur",
    "plan": (
        "plan|plans|planned|coming|future|upcoming|draft|proposed|计划|計畫|计画|拟|擬|草案|"
        "预计|futur*|geplant*|entwurf*|projet*"
    ),
    "rescind": (
        "scrap*|drop|drops|dropped|rescind*|revok*|withdraw*|replace*|撤销|撤銷|撤|废除|廢除|"
        "取消|abroger|aufheb*"
    ),
    "retaliation": "retaliat*|反制|报复|報復|対抗措置|represaille*|vergeltung*",
    "ban": "ban|bans|banned|prohibit*|halt*|禁止|禁令|禁运|禁運|interdi*|verbot*",
    "allies": "allies|ally|partner*|盟友|同盟|伙伴|partenaire*|verbundet*",
    # -- summits ------------------------------------------------------------------------
    "summit": (
        "summit*|gathering|conference|峰会|峰會|大会|大會|サミット|会議|정상회의|sommet*|"
        "gipfel*|konferenz*"
    ),
    "declaration": ("declaration*|statement*|communique|text|宣言|声明|聲明|성명|선언|*erklarung*"),
    "sign": (
        "sign|signs|signed|signature*|endorse*|backed|put their names|签署|簽署|署名|"
        "서명|signe*|paraphe*|unterzeichn*|soutenu"
    ),
    "refuse": (
        "refus*|decline*|did not sign|none from|walk out|未签|未簽|拒绝|拒簽|拒签|不签|"
        "nicht mit|ne paraphent"
    ),
    "safety": "safety|safe|安全|sicherheit*|securite",
    "frontier": "frontier|前沿|frontiere*",
    "code-of-conduct": (
        "code of conduct|行为准则|行為準則|行動規範|verhaltenskodex|code de conduite"
    ),
    "resolution": "resolution*|决议|決議|결의",
    "capacity-building": "capacity building|能力建设|能力建設",
    "governance": "governance|治理|gouvernance",
    "cooperation-body": (
        "cooperation|organisation|organization|body|club|合作组织|合作組織|協力機構|機構|"
        "组织|組織|organisation*"
    ),
    "action-plan": "action plan|行动计划|行動計画|plan d'action|aktionsplan",
    "host": "host*|held|hold|举办|舉辦|主办|主辦|開催|개최|accueill*|ausricht*",
    "next": "next|successor|下一届|下届|次回|prochain*|nachst*",
    "global-south": "global south|全球南方|グローバル サウス",
    "agree": "consensus|agree*|accord|共识|共識|合意|一致|einig*",
    "global": "global|world|worldwide|全球|世界|mondial*|weltweit*",
}

COUNTRIES = frozenset(
    """china united-states netherlands united-kingdom russia taiwan japan india france
    south-korea germany""".split()  # noqa: SIM905
)
# What every story of a topic mentions: sharing these says little about which story it is.
BROAD = COUNTRIES | frozenset(
    """travel chip summit publish plan warn global ban permission export-control declaration
    sign agree""".split()  # noqa: SIM905
)
BROAD_WEIGHT = 1.0
CONCEPT_WEIGHT = 2.0


def weight(concept: str) -> float:
    return BROAD_WEIGHT if concept in BROAD else CONCEPT_WEIGHT


@dataclass(frozen=True, slots=True)
class _Form:
    """A Latin form as words; `head`/`tail`: its first/last word may be part of a longer one."""

    words: tuple[str, ...]
    head: bool
    tail: bool
    concept: str

    @property
    def size(self) -> int:
        return sum(len(w) for w in self.words)

    def starts(self, token: str) -> bool:
        word = self.words[0]
        if self.head:
            return word in token if self.tail or len(self.words) > 1 else token.endswith(word)
        return token.startswith(word) if self.tail and len(self.words) == 1 else token == word

    def rest_matches(self, tokens: Sequence[str], at: int) -> bool:
        rest = self.words[1:]
        if at + len(rest) >= len(tokens):
            return False
        for offset, word in enumerate(rest, start=1):
            token = tokens[at + offset]
            last = offset == len(rest)
            if not (token == word or (last and self.tail and token.startswith(word))):
                return False
        return True


@dataclass(frozen=True, slots=True)
class _Lexicon:
    exact: dict[str, list[_Form]]  # by first word, written out
    prefixes: dict[str, list[_Form]]  # single words ending in "*", by their letters
    prefix_sizes: tuple[int, ...]
    inner: tuple[_Form, ...]  # forms whose first word may be inside a token
    cjk: tuple[tuple[str, str], ...]


@lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    exact: dict[str, list[_Form]] = {}
    prefixes: dict[str, list[_Form]] = {}
    inner: list[_Form] = []
    cjk: list[tuple[str, str]] = []
    for concept, forms in CONCEPTS.items():
        for text in forms.split("|"):
            if any(is_cjk_char(c) for c in text):
                # As `concepts_of` sees the text: normalised, CJK characters run together.
                cjk.append((_cjk_run(tokenize(text).folded), concept))
                continue
            words = tokenize(text.strip("*")).folded
            form = _Form(words, text.startswith("*"), text.endswith("*"), concept)
            if form.head:
                inner.append(form)
            elif form.tail and len(words) == 1:
                prefixes.setdefault(words[0], []).append(form)
            else:
                exact.setdefault(words[0], []).append(form)
    return _Lexicon(
        exact, prefixes, tuple(sorted({len(p) for p in prefixes})), tuple(inner), tuple(cjk)
    )


@lru_cache(maxsize=65536)
def _starting(token: str) -> tuple[_Form, ...]:
    """Forms whose first word matches this token (news reuses words: cached)."""
    lexicon = _lexicon()
    options = [*lexicon.exact.get(token, ())]
    for size in lexicon.prefix_sizes:
        if size > len(token):
            break
        options += lexicon.prefixes.get(token[:size], ())
    options += lexicon.inner
    return tuple(f for f in options if f.starts(token))


def _latin_concepts(tokens: Sequence[str]) -> set[str]:
    """Scan left to right; where forms overlap, the longest (most specific) wins:
    "Reisepässe" is a passport, not only travel."""
    found: set[str] = set()
    at = 0
    while at < len(tokens):
        options = _starting(tokens[at])
        matched = [f for f in options if f.rest_matches(tokens, at)] if options else ()
        if not matched:
            at += 1
            continue
        best = max(f.size for f in matched)
        winners = [f for f in matched if f.size == best]
        found.update(f.concept for f in winners)
        at += len(winners[0].words)
    return found


def _cjk_run(tokens: Sequence[str]) -> str:
    """CJK characters run together (a space where other words were; no middle dots)."""
    return "".join(t if is_cjk_char(t[0]) else " " for t in tokens if t != "・")


def concepts_in(text: str) -> frozenset[str]:
    """The concepts a text names, in any of the lexicon's languages."""
    return concepts_of(tokenize(text).folded)


def concepts_of(tokens: Sequence[str]) -> frozenset[str]:
    """The concepts named by folded tokens (as `bot.text.tokenize` gives them)."""
    found = _latin_concepts([t for t in tokens if not is_cjk_char(t[0])])
    if any(is_cjk_char(t[0]) for t in tokens):
        cjk = _cjk_run(tokens)
        found.update(concept for form, concept in _lexicon().cjk if form in cjk)
    return frozenset(found)
