"""Spam / hard-ad detection, SimHash near-duplicates and repeated promotions."""

from __future__ import annotations

from datetime import date

import pytest

from groupops.errors import InputFormatError
from groupops.text.hygiene import (
    SPAM_REASONS,
    detect_spam,
    hamming_distance,
    is_promotional_message,
    near_duplicate_groups,
    repeated_copy_paste,
    repeated_promotion_share,
    simhash64,
    weekly_repeated_promotion_share,
)

PROMOTION = "今晚8点直播间 全场5折起 前100名送袜子 点击小程序下单"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("点击链接领红包 http://t.cn/A6xyz", "link"),
        ("全场一折 www.xx-fashion.com", "link"),
        ("代购一手货源 vx: shop8899", "wechat_id"),
        ("加 Ｖ 信 lily_2023 拉你进福利群", "contact_request"),
        ("扫码进群领福利 长按识别二维码", "qr_code"),
        ("兼职日结 宝妈在家就能做", "hard_ad"),
        ("复制口令￥Ab12Cd3￥打开淘宝", "link"),
        # loans, group invites, resale, prizes for following an account
        ("急用钱的姐妹看过来 无抵押 当天放款 私信", "hard_ad"),
        ("【邀请你加入群聊】省钱群 每天一折起", "contact_request"),
        ("闲置转让 品牌尾货 看我主页", "contact_request"),
        ("关注抖音号 看直播领取奖品", "hard_ad"),
    ],
)
def test_spam_is_detected_with_its_reason(text: str, reason: str) -> None:
    verdict = detect_spam(text)
    assert verdict.is_spam
    assert reason in verdict.reasons
    assert set(verdict.reasons) <= set(SPAM_REASONS)
    assert verdict.score >= 1.0


@pytest.mark.parametrize(
    "text",
    [
        "这个有S码吗",
        "什么时候发货",
        "可以加微信吗",
        "手机号13800001234的订单查一下",
        "扫码支付可以吗",
        "",
        "打卡",
    ],
)
def test_ordinary_member_messages_are_not_spam(text: str) -> None:
    assert not detect_spam(text).is_spam


@pytest.mark.parametrize(
    "text",
    [
        "新人券和满减可以叠加 我刚试了",
        "参加我们的活动要报名吗",
        "有人冒充客服加我 让我扫码退款 大家别信",
        "群里又有人发广告 兼职刷单的 管一管吧",
    ],
)
def test_words_ending_in_jia_and_warnings_about_spam_are_not_spam(text: str) -> None:
    verdict = detect_spam(text)
    assert not verdict.is_spam
    assert not {"冒充", "别信", "发广告", "管一管"} & set(verdict.terms)


def test_a_warning_word_does_not_clear_a_message_full_of_spam_cues() -> None:
    verdict = detect_spam("别信别人 加v shop8899 兼职日结 刷单返利 扫码进群")
    assert verdict.is_spam


def test_allowed_brand_domains_are_not_links() -> None:
    text = "新品在这里 https://shop.acme-brand.com/item/1"
    assert detect_spam(text).is_spam
    assert not detect_spam(text, allowed_domains=["acme-brand.com"]).is_spam


def test_hostile_inputs_do_not_break_detection() -> None:
    for text in ["<a href='http://evil.cn'>x</a>", "'; DROP TABLE users; --", "a" * 100_000, "\x00\ufeff"]:
        verdict = detect_spam(text)
        assert isinstance(verdict.is_spam, bool)


def test_simhash_is_stable_and_near_duplicates_are_close() -> None:
    assert simhash64(PROMOTION) == simhash64(PROMOTION)
    assert 0 <= simhash64(PROMOTION) < 2**64
    assert simhash64("") == 0
    reworded = "【今晚9点】直播间全场5折起，前50名送袜子，点击小程序下单！"
    unrelated = "新人专享券已经发在群公告啦 大家记得领"
    assert hamming_distance(simhash64(PROMOTION), simhash64(reworded)) <= 10
    assert hamming_distance(simhash64(PROMOTION), simhash64(unrelated)) > 16


def test_near_duplicate_groups_and_threshold() -> None:
    texts = [
        PROMOTION,
        "新品上市 群内专享9折 今天下单包邮",
        PROMOTION + " 姐妹们冲",
        "满199减20 满399减50 仅限本周",
    ]
    assert near_duplicate_groups(texts) == [[0, 2]]
    assert near_duplicate_groups(texts, max_hamming=0) == []
    assert near_duplicate_groups([]) == []
    with pytest.raises(ValueError):
        near_duplicate_groups(texts, max_hamming=64)


def test_repeated_promotion_share_counts_repeats_after_the_first() -> None:
    messages = [("m1", PROMOTION), ("m2", PROMOTION), ("m3", "新品上市 群内专享9折"), ("m4", PROMOTION)]
    assert repeated_promotion_share(messages) == pytest.approx(2 / 4)
    assert repeated_promotion_share([]) == 0.0
    assert repeated_promotion_share([("m1", PROMOTION)]) == 0.0


def test_weekly_share_per_group_and_week() -> None:
    rows = [
        ("g1", date(2024, 5, 6), PROMOTION),
        ("g1", date(2024, 5, 8), PROMOTION),
        ("g1", date(2024, 5, 9), "大家早上好"),
        ("g1", date(2024, 5, 13), PROMOTION),
        ("g2", date(2024, 5, 7), "满199减20 满399减50 仅限本周"),
    ]
    result = weekly_repeated_promotion_share(rows)
    assert [(r.group_id, r.week_start, r.messages, r.repeated) for r in result] == [
        ("g1", date(2024, 5, 6), 2, 1),
        ("g1", date(2024, 5, 13), 1, 0),
        ("g2", date(2024, 5, 6), 1, 0),
    ]
    assert result[0].share == 0.5
    everything = weekly_repeated_promotion_share(rows, promotional_only=False)
    assert everything[0].messages == 3
    with pytest.raises(InputFormatError):
        weekly_repeated_promotion_share([("g1", "2024-05-06", PROMOTION)])  # type: ignore[list-item]


def test_promotional_messages_are_recognised() -> None:
    assert is_promotional_message(PROMOTION)
    assert is_promotional_message("满199减20 满399减50")
    assert not is_promotional_message("大家早上好")
    assert not is_promotional_message("这个有S码吗")


def test_repeated_copy_paste_flags_senders_not_check_ins() -> None:
    spam = "出一件全新未拆的外套 要的私聊 价格好说"
    messages = [("u1", spam), ("u1", spam + "!"), ("u1", "出一件全新未拆的外套 要的私聊 价格好说~")]
    messages += [("u2", "打卡")] * 10 + [("u3", "衣服很好看 推荐大家买")]
    findings = repeated_copy_paste(messages)
    assert [(finding.sender, finding.repeats) for finding in findings] == [("u1", 3)]
    assert findings[0].sample == spam
    assert repeated_copy_paste(messages, min_repeats=4) == []
