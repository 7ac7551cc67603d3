"""Tests of groupops.text.compliance: contract, labelled cases, shipped rule examples, extension."""

from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupops.errors import ConfigurationError
from groupops.text.compliance import (
    BUILTIN_LEXICON_DIR,
    CATEGORIES,
    CheckOutcome,
    ComplianceResult,
    Finding,
    Hit,
    Rule,
    check_original_price,
    check_text,
    check_texts,
    compliance_check,
    default_checker,
    load_checker,
    reference_price_before_promotion,
)

CASES_FILE = Path(__file__).parent / "data" / "compliance_cases.tsv"
MIN_RECALL = 0.95  # share of violation/review sentences flagged (not clean)
MIN_CLEAN_KEPT = 0.90  # share of clean sentences left clean


def _cases() -> list[dict[str, str]]:
    with CASES_FILE.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


# --- contract --------------------------------------------------------------------------------------


def test_result_serialises_to_the_cli_contract() -> None:
    result = check_text("这是全网最好的羊绒大衣")
    payload = result.to_dict(line=3)
    assert list(payload) == ["line", "text", "verdict", "findings"]
    assert payload["line"] == 3 and payload["verdict"] == "violation"
    finding = payload["findings"][0]  # type: ignore[index]
    assert list(finding) == ["rule", "category", "term", "start", "end", "severity", "reason", "suggestion"]
    assert finding["category"] in CATEGORIES
    assert finding["severity"] in ("violation", "review")


def test_clean_text_has_no_findings() -> None:
    assert check_text("今天降温了，大家出门注意保暖") == ComplianceResult(
        "今天降温了，大家出门注意保暖", "clean", ()
    )


def test_empty_text_is_clean() -> None:
    assert check_text("").verdict == "clean"
    assert check_texts([]) == []


def test_reason_cites_the_law_and_suggestion_rewrites() -> None:
    finding = check_text("最好的面料，穿着舒服").findings[0]
    assert "广告法第九条第三项" in finding.reason
    assert finding.suggestion.endswith("优质面料")
    assert finding.suggestion.startswith("最好的面料")


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("蕞 好 的面料", "蕞 好 的"),
        ("這款是ＮＯ．１爆款", "ＮＯ．１"),
        ("最*佳选择", "最*佳"),
        ("全网TOP 1的羊绒", "全网TOP 1"),
        ("zui好的衣服", "zui好的"),
        ("頂級面料", "頂級"),
    ],
)
def test_offsets_point_into_the_original_text(text: str, term: str) -> None:
    finding = check_text(text).findings[0]
    assert text[finding.start : finding.end] == finding.term == term


# --- evasions and exemptions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "最 好 的羊绒",
        "最*好的面料",
        "蕞好的冰丝",
        "最👍好的羊绒",
        "最\u200b好\u200b的面料",
        "第1名的人气单品",
        "NO.1爆款",
        "No 1 爆款",
        "ｎｏ．１爆款",
        "最佳選擇",
        "頂級面料",
        "絕對不起球",
        "ＴＯＰ１人气款",
        "最IN穿搭",
        "zui好的面料",
        "减 肥 神 器",
        "治療腳氣的襪子",
    ],
)
def test_evasions_are_caught(text: str) -> None:
    assert check_text(text).verdict == "violation", text


@pytest.mark.parametrize(
    "text",
    [
        "我们会努力做到最好",  # aspiration
        "追求极致是我们的理念",  # business philosophy
        "本品牌最轻的一款羽绒服",  # self-comparison
        "最好平铺晾干",  # usage tip
        "最高水温30度",  # usage tip
        "执行标准GB/T 2660-2017，一等品",  # grade with its standard
        "最大码4XL",  # size
        "最新款已经上架",  # time order
        "活动最后一天",  # time order
        "第一批现货今天发出",  # time order
        "第一次购买的宝宝有新人券",  # ordinary word
        "最近天气转凉",  # ordinary word
        "最晚明天发货",  # ordinary word
    ],
)
def test_exemptions_of_the_samr_guideline(text: str) -> None:
    assert check_text(text).verdict == "clean", check_text(text).findings


def test_sales_claim_with_date_and_source_needs_review() -> None:
    assert check_text("本款羽绒服销量第一").verdict == "violation"
    result = check_text("据2023年天猫双11官方榜单数据，本款羽绒服类目销量第一")
    assert result.verdict == "review"
    assert "证明材料" in result.findings[0].reason


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("抗菌防臭袜", "review"),
        ("UPF50+防晒衣", "review"),
        ("防螨床品", "review"),
        ("保暖又透气，显瘦", "clean"),
        ("治疗关节炎的护膝", "violation"),
        ("穿了能减肥", "violation"),
        ("丰胸内衣", "violation"),
        ("提高免疫力的秋衣", "violation"),
    ],
)
def test_apparel_efficacy_claims(text: str, verdict: str) -> None:
    assert check_text(text).verdict == verdict


def test_lottery_prize_above_cap_is_a_violation() -> None:
    result = check_text("抽奖送价值8万元的汽车1辆，12月1日20点群内随机抽取，下单即可参与")
    assert [f.rule for f in result.findings] == ["gift.prize_cap"]
    assert "80,000" in result.findings[0].reason


def test_lottery_without_elements_is_flagged_once_per_text() -> None:
    result = check_text("今晚抽奖！抽奖送大衣！大家准备好抽奖")
    assert [f.rule for f in result.findings] == ["gift.lottery_disclosure"]
    assert result.verdict == "violation"


def test_gift_with_all_elements_is_clean() -> None:
    assert check_text("今天下单送同款袜子一双，送完即止").verdict == "clean"
    assert check_text("下单送好礼").verdict == "review"


# --- the labelled case file -----------------------------------------------------------------------


def test_case_file_is_large_and_covers_every_category_both_ways() -> None:
    cases = _cases()
    assert len(cases) >= 300
    assert {case["expected_verdict"] for case in cases} == {"violation", "review", "clean"}
    flagged_categories = {case["expected_category"] for case in cases if case["expected_verdict"] != "clean"}
    assert flagged_categories == set(CATEGORIES)
    assert all(case["expected_category"] == "" for case in cases if case["expected_verdict"] == "clean")


def test_precision_and_recall_on_the_labelled_cases() -> None:
    cases = _cases()
    results = check_texts([case["text"] for case in cases])
    missed, false_alarms, wrong_category = [], [], []
    for case, result in zip(cases, results, strict=True):
        if case["expected_verdict"] == "clean":
            if result.verdict != "clean":
                false_alarms.append((case["text"], [f.term for f in result.findings]))
        elif result.verdict == "clean":
            missed.append(case["text"])
        elif case["expected_category"] not in {f.category for f in result.findings}:
            wrong_category.append((case["text"], case["expected_category"]))
    flagged_expected = sum(case["expected_verdict"] != "clean" for case in cases)
    clean_expected = len(cases) - flagged_expected
    recall = 1 - len(missed) / flagged_expected
    clean_kept = 1 - len(false_alarms) / clean_expected
    precision = (flagged_expected - len(missed)) / (flagged_expected - len(missed) + len(false_alarms))
    print(
        f"recall {recall:.3f}, clean kept {clean_kept:.3f}, precision {precision:.3f} on {len(cases)} cases"
    )
    assert recall >= MIN_RECALL, missed
    assert clean_kept >= MIN_CLEAN_KEPT, false_alarms
    assert not wrong_category


def test_exact_verdicts_on_the_labelled_cases() -> None:
    cases = _cases()
    results = check_texts([case["text"] for case in cases])
    exact = sum(
        case["expected_verdict"] == result.verdict for case, result in zip(cases, results, strict=True)
    )
    assert exact / len(cases) >= 0.95


def test_every_finding_points_at_its_term() -> None:
    for result in check_texts([case["text"] for case in _cases()]):
        for finding in result.findings:
            assert result.text[finding.start : finding.end] == finding.term


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([case["text"] for case in _cases()]), min_size=1, max_size=12))
def test_batch_results_equal_single_results(texts: list[str]) -> None:
    assert check_texts(texts) == [check_text(text) for text in texts]


# --- shipped rules ---------------------------------------------------------------------------------


RULES = sorted(default_checker().rules.values(), key=lambda rule: rule.id)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.id)
def test_every_shipped_rule_has_examples_both_ways(rule: Rule) -> None:
    assert rule.positive_examples, f"{rule.id} has no positive example"
    assert rule.negative_examples, f"{rule.id} has no negative example"
    for text in rule.positive_examples:
        assert rule.id in {f.rule for f in check_text(text).findings}, (
            f"{rule.id} misses its positive example {text!r}"
        )
    for text in rule.negative_examples:
        assert rule.id not in {f.rule for f in check_text(text).findings}, (
            f"{rule.id} flags its negative {text!r}"
        )


def test_shipped_rules_cite_a_rule_of_law_and_use_known_categories() -> None:
    for rule in RULES:
        assert rule.category in CATEGORIES
        assert any(word in rule.reason for word in ("法", "规定", "GB", "标准")), rule.id


def test_shipped_lexicon_is_in_the_package() -> None:
    assert sorted(path.name for path in BUILTIN_LEXICON_DIR.glob("*.yaml")) == [
        "absolute.yaml",
        "authority.yaml",
        "contexts.yaml",
        "disparage.yaml",
        "efficacy.yaml",
        "gift.yaml",
        "label.yaml",
        "other.yaml",
        "price.yaml",
    ]


# --- extension: extra lexicon directories and checks ---------------------------------------------------


def _write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")
    return directory


def test_extra_directory_adds_a_rule(tmp_path: Path) -> None:
    extra = _write(
        tmp_path / "brand",
        "brand.yaml",
        """
rules:
  - id: brand.competitor_names
    category: disparage
    reason: 反不正当竞争法第十一条
    terms: [甲品牌]
    examples: {positive: [甲品牌上新了], negative: [我们家的]}
""",
    )
    checker = load_checker([extra])
    assert checker.check("甲品牌上新了").findings[0].rule == "brand.competitor_names"
    assert check_text("甲品牌上新了").verdict == "clean"  # the default checker is unchanged


def test_extra_directory_extends_a_builtin_rule(tmp_path: Path) -> None:
    extra = _write(
        tmp_path / "brand",
        "more.yaml",
        """
extend:
  - rule: absolute.top_grade
    terms: [宇宙第一好: 很好]
ordinary_words: [最好评]
""",
    )
    checker = load_checker([extra])
    finding = checker.check("宇宙第一好的大衣").findings[0]
    assert (finding.rule, finding.term) == ("absolute.top_grade", "宇宙第一好")
    assert checker.check("这款是最好评的").verdict == "clean"


def test_extra_directory_can_use_a_registered_check(tmp_path: Path) -> None:
    @compliance_check("test_always_review")
    def always_review(hit: Hit, rule: Rule) -> CheckOutcome | None:
        return CheckOutcome("review", note=f"term {hit.term}")

    extra = _write(
        tmp_path / "checks",
        "x.yaml",
        """
rules:
  - id: test.checked
    category: other
    reason: 测试规定
    terms: [测试词]
    check: test_always_review
""",
    )
    finding = load_checker([extra]).check("一个测试词").findings[0]
    assert finding.severity == "review" and finding.reason == "测试规定（term 测试词）"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("rules: [{id: x, category: nope, reason: r, terms: [a]}]", "category must be one of"),
        ("rules: [{id: x, category: other, terms: [a]}]", "reason"),
        (
            "rules: [{id: x, category: other, reason: r, terms: [a], exempt: [no_such_context]}]",
            "unknown context",
        ),
        (
            "rules: [{id: x, category: other, reason: r, terms: [a], exempt: [{after: '('}]}]",
            "invalid regular expression",
        ),
        (
            "rules: [{id: x, category: other, reason: r, terms: [a], check: no_such_check}]",
            "unregistered checks",
        ),
        ("rules: [{id: x, category: other, reason: r, terms: ['。']}]", "empty"),
        ("something: else", "unknown top-level keys"),
        ("rules: [[", "cannot read"),
        ("extend: [{rule: no.such.rule, terms: [a]}]", "loaded rule"),
    ],
)
def test_invalid_lexicon_files_are_reported(tmp_path: Path, content: str, message: str) -> None:
    extra = _write(tmp_path / "bad", "bad.yaml", content)
    with pytest.raises(ConfigurationError, match=message) as error:
        load_checker([extra])
    assert "bad.yaml" in str(error.value) or "unregistered" in str(error.value)


def test_missing_lexicon_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_checker([tmp_path / "nope"])


# --- 原价 against the order history ----------------------------------------------------------------


def test_reference_price_is_the_lowest_in_the_seven_days_before() -> None:
    history = [
        (date(2024, 11, 1), 259),  # outside the window
        (date(2024, 11, 4), 199),
        (date(2024, 11, 8), 219),
        (date(2024, 11, 10), 99),  # the promotion day itself does not count
    ]
    assert reference_price_before_promotion(history, date(2024, 11, 10)) == Decimal(199)


def test_reference_price_falls_back_to_the_last_transaction() -> None:
    history = [(datetime(2024, 10, 1, 12, 0), "289"), (datetime(2024, 10, 20, 9, 30), "269")]
    assert reference_price_before_promotion(history, date(2024, 11, 10)) == Decimal(269)
    assert reference_price_before_promotion([], date(2024, 11, 10)) is None


def test_stated_original_price_above_reference_is_fictitious() -> None:
    history = [(date(2024, 11, 5), 199), (date(2024, 11, 7), 209)]
    checked = check_original_price(299, history, date(2024, 11, 10))
    assert checked.fictitious and checked.reference_price == Decimal(199)
    assert "第十六条" in checked.reason
    assert not check_original_price("199", history, date(2024, 11, 10)).fictitious
    assert check_original_price(199, [], date(2024, 11, 10)).fictitious


def test_finding_is_a_plain_value() -> None:
    finding = Finding("r", "other", "t", 0, 1, "review", "reason", "suggestion")
    assert finding.to_dict()["term"] == "t"


# --- the blind evaluation batches ------------------------------------------------------------------
#
# compliance_blind.tsv holds two batches written before the checker's output on them was seen.
# Batch A (362 sentences) was scored on the rules as they stood (85.6 % flagged, 92.2 % clean kept),
# then again after the lexicons were extended family by family without looking at it (94.7 %,
# 97.4 %); its misses were then studied and fixed, so its final figures are no longer blind.
# Batch B (222 sentences) was written after the family extension and never used for tuning:
# 98.4 % flagged and 91.9 % clean kept when first scored, 98.4 % and 94.9 % at the end (the
# generic fixes prompted by batch A). The floors below are those achieved figures, rounded down.

BLIND_FILE = Path(__file__).parent / "data" / "compliance_blind.tsv"
BLIND_FLOORS = {"A": (0.99, 0.99), "B": (0.98, 0.94)}  # batch → (flagged share, clean-kept share)


def _blind_cases() -> list[dict[str, str]]:
    with BLIND_FILE.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def test_blind_file_is_large_and_labelled_both_ways() -> None:
    cases = _blind_cases()
    assert len(cases) >= 300
    assert {case["batch"] for case in cases} == set(BLIND_FLOORS)
    assert {case["expected_verdict"] for case in cases} == {"violation", "review", "clean"}
    assert all((case["expected_category"] == "") == (case["expected_verdict"] == "clean") for case in cases)
    assert {case["expected_category"] for case in cases} - {""} <= set(CATEGORIES)


@pytest.mark.parametrize("batch", sorted(BLIND_FLOORS))
def test_flagged_and_clean_shares_on_the_blind_batches(batch: str) -> None:
    cases = [case for case in _blind_cases() if case["batch"] == batch]
    results = check_texts([case["text"] for case in cases])
    problems = [r for c, r in zip(cases, results, strict=True) if c["expected_verdict"] != "clean"]
    cleans = [r for c, r in zip(cases, results, strict=True) if c["expected_verdict"] == "clean"]
    flagged = sum(result.verdict != "clean" for result in problems) / len(problems)
    clean_kept = sum(result.verdict == "clean" for result in cleans) / len(cleans)
    print(f"batch {batch}: flagged {flagged:.3f}, clean kept {clean_kept:.3f} on {len(cases)} sentences")
    minimum_flagged, minimum_clean_kept = BLIND_FLOORS[batch]
    assert flagged >= minimum_flagged
    assert clean_kept >= minimum_clean_kept


@pytest.mark.parametrize(
    "text",
    [
        "本次抽奖最高奖金额不超过5万元",
        "奖品最高价值不超过3000元",
        "抽奖规则：奖品为羊毛围巾10条，11月30日20:00在群内用小程序随机抽取，当天下单的群成员可参与，最高奖金额不超过5万元",
        "洗涤最高水温30度",
        "每人最多可选3件",
        "最低消费199元可用",
        "最低起订量50件",
        "本期胜出的款式是燕麦色卫衣",
        "投票结果：第一名是黑色款，第二名是驼色",
        "本周穿搭大赛冠军是@小雨，奖品下周寄出",
        "100%纯棉，亲肤透气",
        "最低价格以结算页面为准",
    ],
)
def test_draw_rules_numeric_limits_and_poll_results_stay_clean(text: str) -> None:
    assert check_text(text).verdict == "clean", check_text(text).findings


def test_draw_with_a_prize_above_the_cap_is_still_a_violation() -> None:
    result = check_text("抽奖规则：一等奖现金8万元1名，12月1日20点群内随机抽取，下单即可参与")
    assert "gift.prize_cap" in {finding.rule for finding in result.findings}


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("羽绒服里的爱马仕", "absolute"),
        ("保暖天花板", "absolute"),
        ("这件直接封神", "absolute"),
        ("断层领先", "absolute"),
        ("碾压同价位", "disparage"),
        ("遥遥领先的锁温技术", "absolute"),
        ("零差评爆款", "absolute"),
        ("好评率100%", "absolute"),
        ("断货王返场", "absolute"),
        ("完美版型", "absolute"),
        ("石墨烯内衣促进血液循环", "efficacy"),
        ("护腰缓解腰痛", "efficacy"),
        ("中国名牌产品", "authority"),
        ("比专柜便宜一半", "price"),
        ("某红书推荐的都是广告，别信", "disparage"),
    ],
)
def test_creative_wording_is_flagged_in_its_category(text: str, category: str) -> None:
    result = check_text(text)
    assert result.verdict != "clean"
    assert category in {finding.category for finding in result.findings}
