"""Throughput of the ad-law compliance checker (issue 7 target: ≥ 20 MB/s end to end, one core).

Run:  python benchmarks/compliance.py [--megabytes 8] [--synthetic-terms 10000] [--seed 7] [--json]

It builds a corpus of realistic group-marketing messages (mostly clean, about one in eight
with a problem, some with evasions), and a lexicon of the built-in rules plus
``--synthetic-terms`` generated terms loaded as an extra lexicon directory (the extension path
admins use). Then, in the same run, it times:

1. the checker end to end (``ComplianceChecker.check_many`` over batches of lines: normalisation,
   matching, context rules, offsets, findings);
2. the raw Rust Aho-Corasick matcher alone (``ahocorasick_rs``, same terms, over the text);
3. a naive baseline: one compiled regular expression alternation over the same terms
   (measured on a slice of the corpus, it is slow).

Figures are MB/s of UTF-8 text (Chinese is 3 bytes a character).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import ahocorasick_rs
import yaml

from groupops.text.compliance import ComplianceChecker, load_checker

TARGET_MB_PER_SECOND = 20.0
BATCH_LINES = 5_000

_CLEAN = [
    "新品上架，{item}今天{discount}折",
    "早安各位宝宝，今天气温骤降，记得添衣",
    "这款{item}是宽松版型，男女都能穿",
    "面料是{fibre}，洗了不变形，手感很软糯",
    "群内专属福利，今晚{hour}点准时开抢",
    "{item}显高显瘦，小个子也能穿",
    "秋冬必备的{item}，温柔又百搭",
    "{item}补货啦，有需要的宝宝抓紧，{size}码还有",
    "包邮！满两件再打9折，活动到周日",
    "羽绒服充绒量{grams}克，90%白鸭绒",
    "有问题随时私信客服，我们在线到晚上10点",
    "下单备注身高体重，客服帮你推荐尺码",
    "最好平铺晾干，不要暴晒，最高水温30度",
    "最大码4XL，{weight}斤以内都能穿",
    "第一次购买的宝宝可以领新人券",
    "原价{price}，今天券后{offer}",
    "限时秒杀，前100名半价，手慢无",
    "身高160体重{weight}斤穿M码刚好",
    "冰丝面料凉凉的，夏天穿很舒服",
    "本品牌最轻的一款{item}，只有280克",
    "今天下单送同款袜子一双，送完即止",
    "感谢宝宝的返图，穿着真好看，{item}很衬肤色",
    "支持7天无理由退换，运费险已经帮大家买好了",
    "晚上{hour}点直播，带大家看新款{item}",
]
_PROBLEMS = [
    "这款{item}是全网最好的，闭眼入",
    "蕞 好 的{fibre}，只给群里的宝宝",
    "NO.1爆款{item}返场啦",
    "頂級面料，最佳選擇",
    "穿上这条暖宫裤，告别宫寒",
    "塑身衣穿一个月瘦10斤",
    "抗菌防臭的{fibre}袜子，UPF50+防晒",
    "全年最低价，错过等明年，买贵退差",
    "原价{price}9，今天秒杀仅需{offer}",
    "今晚抽奖！大家准备好",
    "别家卖的都是假货，只有我们是真{fibre}",
    "国宴特供{fibre}，限量发售",
]
_FILL = {
    "item": ["羊绒大衣", "羽绒服", "阔腿裤", "卫衣", "针织开衫", "连衣裙", "防晒衣", "冲锋衣", "打底衫", "牛仔裤"],
    "fibre": ["100%纯棉", "羊毛和锦纶混纺", "双面羊绒", "桑蚕丝", "莱赛尔纤维", "粘纤"],
    "discount": ["8", "7", "9", "6"],
    "hour": ["8", "9", "7", "10"],
    "size": ["S", "M", "L", "XL"],
    "grams": ["180", "200", "260", "300"],
    "weight": ["100", "120", "140", "180"],
    "price": ["199", "259", "299", "399"],
    "offer": ["159", "199", "99", "239"],
}


def build_corpus(megabytes: float, seed: int, problem_share: float = 0.125) -> list[str]:
    """Lines of group messages totalling about ``megabytes`` MB of UTF-8."""
    generator = random.Random(seed)
    lines: list[str] = []
    size = 0
    while size < megabytes * 1_000_000:
        templates = _PROBLEMS if generator.random() < problem_share else _CLEAN
        parts = [generator.choice(templates) for _ in range(generator.randint(1, 3))]
        line = "，".join(parts)
        line = re.sub(r"\{(\w+)\}", lambda m: generator.choice(_FILL[m.group(1)]), line)
        lines.append(line)
        size += len(line.encode("utf-8")) + 1
    return lines


def synthetic_lexicon(directory: Path, count: int, seed: int) -> None:
    """Write ``count`` generated 3–4 character terms as one extra rule file in ``directory``."""
    generator = random.Random(seed)
    alphabet = "".join(chr(code) for code in range(0x4E00, 0x4E00 + 3000))
    terms: set[str] = set()
    while len(terms) < count:
        terms.add("".join(generator.choice(alphabet) for _ in range(generator.randint(3, 4))))
    ordered = sorted(terms)
    rule = {
        "id": "synthetic.terms",
        "category": "other",
        "severity": "review",
        "reason": "benchmark: synthetic lexicon term",
        "terms": ordered,
        "examples": {"positive": [ordered[0]], "negative": ["普通的一句话"]},
    }
    (directory / "synthetic.yaml").write_text(yaml.safe_dump({"rules": [rule]}, allow_unicode=True), encoding="utf-8")


def best_seconds(run: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def end_to_end(checker: ComplianceChecker, lines: Sequence[str]) -> int:
    findings = 0
    for start in range(0, len(lines), BATCH_LINES):
        for result in checker.check_many(lines[start : start + BATCH_LINES]):
            findings += len(result.findings)
    return findings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=float, default=8.0, help="corpus size in MB of UTF-8 (default 8)")
    parser.add_argument("--synthetic-terms", type=int, default=10_000, help="generated extra terms (default 10000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions; the best is reported")
    parser.add_argument("--baseline-kilobytes", type=int, default=200, help="slice timed for the regex baseline")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    arguments = parser.parse_args(argv)

    lines = build_corpus(arguments.megabytes, arguments.seed)
    text = "\n".join(lines)
    megabytes = len(text.encode("utf-8")) / 1_000_000
    with tempfile.TemporaryDirectory() as directory:
        synthetic_lexicon(Path(directory), arguments.synthetic_terms, arguments.seed)
        started = time.perf_counter()
        checker = load_checker([directory])
        build_seconds = time.perf_counter() - started
    terms = list(checker.terms)  # the very terms the checker's automaton holds

    checker.check_many(lines[:100])  # warm-up: normalisation tables, regex caches
    findings = end_to_end(checker, lines)
    checker_seconds = best_seconds(lambda: end_to_end(checker, lines), arguments.repeats)

    automaton = ahocorasick_rs.AhoCorasick(terms, matchkind=ahocorasick_rs.MATCHKIND_LEFTMOST_LONGEST)
    matcher_seconds = best_seconds(lambda: automaton.find_matches_as_indexes(text), arguments.repeats)

    alternation = re.compile("|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True)))
    sample = text[: arguments.baseline_kilobytes * 1000 // 3]
    sample_megabytes = len(sample.encode("utf-8")) / 1_000_000
    regex_seconds = best_seconds(lambda: alternation.findall(sample), 1)

    figures = {
        "corpus_megabytes": round(megabytes, 2),
        "lines": len(lines),
        "terms": len(terms),
        "rules": len(checker.rules),
        "lexicon_build_seconds": round(build_seconds, 2),
        "findings": findings,
        "checker_mb_per_s": round(megabytes / checker_seconds, 1),
        "raw_matcher_mb_per_s": round(megabytes / matcher_seconds, 1),
        "regex_baseline_mb_per_s": round(sample_megabytes / regex_seconds, 3),
        "target_mb_per_s": TARGET_MB_PER_SECOND,
    }
    figures["checker_vs_regex"] = round(figures["checker_mb_per_s"] / figures["regex_baseline_mb_per_s"], 1)
    figures["checker_vs_raw_matcher"] = round(figures["checker_mb_per_s"] / figures["raw_matcher_mb_per_s"], 3)
    if arguments.json:
        print(json.dumps(figures))
    else:
        print(f"corpus: {megabytes:.2f} MB, {len(lines):,} lines; lexicon: {len(terms):,} terms, {len(checker.rules)} rules")
        print(f"  checker end to end   {figures['checker_mb_per_s']:8.1f} MB/s  ({findings:,} findings)")
        print(f"  raw ahocorasick_rs   {figures['raw_matcher_mb_per_s']:8.1f} MB/s")
        print(f"  regex alternation    {figures['regex_baseline_mb_per_s']:8.3f} MB/s  (on {sample_megabytes:.2f} MB)")
        print(f"  checker / regex      {figures['checker_vs_regex']:8.1f} ×")
        verdict = "meets" if figures["checker_mb_per_s"] >= TARGET_MB_PER_SECOND else "MISSES"
        print(f"  target {TARGET_MB_PER_SECOND:.0f} MB/s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
