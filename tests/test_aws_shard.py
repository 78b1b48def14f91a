"""Security groups for egress rules (korefw.core.plan.aws_shard): fit, and stay put.

Pulumi creates and updates before it deletes, so a rule that changes group exists in both
groups until the end of the update. The properties below hold for any rule set, not only
the vendor's: every group fits ``rule_limit`` per IP version; and while the group count
stays, adding or removing rules moves no other rule, so at the peak of the update a group
holds no more than the larger of its old and new rule sets.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from korefw.core.errors import PlanError
from korefw.core.plan.aws_data import EgressRulePlan
from korefw.core.plan.aws_options import AwsOptions
from korefw.core.plan.aws_shard import HASH_SPREAD, _jump, _probed, shard


def egress(name: str, cost: int = 1, family: int = 4) -> EgressRulePlan:
    cidr = "10.0.0.0/32" if family == 4 else "2001:db8::/128"
    return EgressRulePlan(name, "tcp", 443, 443, family, "d", cost, 0, cidr=cidr)


NAMES = st.text("abcdefghij0123456789-", min_size=1, max_size=12)


def rule_sets(min_size: int) -> st.SearchStrategy[list[EgressRulePlan]]:
    return st.dictionaries(
        NAMES,
        st.tuples(st.integers(1, 6), st.sampled_from((4, 4, 4, 6))),
        min_size=min_size,
        max_size=60,
    ).map(lambda d: [egress(n, c, f) for n, (c, f) in sorted(d.items())])


RULES = rule_sets(1)
#: Stacks that mostly need several groups at the limits drawn (one group moves nothing).
STACKS = rule_sets(15)


def placed(rules: list[EgressRulePlan], limit: int) -> tuple[dict[str, int], int]:
    out, groups = shard(rules, AwsOptions(rule_limit=limit), "xx")
    return {r.name: r.group for r in out}, len(groups)


def loads(rules: list[EgressRulePlan], where: dict[str, int]) -> Counter[tuple[int, int]]:
    out: Counter[tuple[int, int]] = Counter()
    for r in rules:
        out[(where[r.name], r.family)] += r.cost
    return out


@settings(max_examples=150, deadline=None)
@given(rules=RULES, limit=st.integers(6, 40))
def test_every_group_fits_and_no_more_groups_than_needed_plus_spread(
    rules: list[EgressRulePlan], limit: int
) -> None:
    where, count = placed(rules, limit)
    assert set(where) == {r.name for r in rules}
    assert set(where.values()) <= set(range(1, count + 1))
    assert all(u <= limit for u in loads(rules, where).values())
    need = max(-(-sum(r.cost for r in rules if r.family == f) // limit) for f in (4, 6))
    assert max(need, 1) <= count
    # Hashing may take spare groups; packing, the fallback, never needs many more.
    assert count <= max(need + HASH_SPREAD, 2 * need)


@settings(max_examples=150, deadline=None)
@given(rules=STACKS, limit=st.integers(6, 30))
def test_each_rule_is_in_its_hashed_group_whenever_those_fit(
    rules: list[EgressRulePlan], limit: int
) -> None:
    where, count = placed(rules, limit)
    need = max(-(-sum(r.cost for r in rules if r.family == f) // limit) for f in (4, 6))
    home = {r.name: 1 + _jump(int(_digest(r.name), 16), count) for r in rules}
    # every count up to need + HASH_SPREAD (within 5 groups) is tried hashed, fewest first
    if count <= max(need, min(need + HASH_SPREAD, 5)) and all(
        u <= limit for u in loads(rules, home).values()
    ):
        assert where == home


@settings(max_examples=150, deadline=None)
@given(rules=STACKS, limit=st.integers(6, 30), n=st.integers(1, 5))
def test_probing_moves_only_rules_whose_hashed_group_is_full(
    rules: list[EgressRulePlan], limit: int, n: int
) -> None:
    where = _probed(rules, {r.name: int(_digest(r.name), 16) for r in rules}, n, limit)
    if where is None:
        return
    used = loads(rules, where)
    assert all(u <= limit for u in used.values())
    for r in rules:
        home = 1 + _jump(int(_digest(r.name), 16), n)
        # Loads only grow while probing, so a rule that found its group full still would.
        assert where[r.name] == home or used[(home, r.family)] + r.cost > limit, r.name


@settings(max_examples=150, deadline=None)
@given(rules=STACKS, data=st.data(), limit=st.integers(6, 30))
def test_a_change_that_keeps_the_count_moves_no_rule_and_passes_no_quota(
    rules: list[EgressRulePlan], data: st.DataObject, limit: int
) -> None:
    gone = data.draw(st.sets(st.sampled_from([r.name for r in rules]), min_size=1, max_size=3))
    fewer = [r for r in rules if r.name not in gone]
    old, old_count = placed(fewer, limit)
    new, new_count = placed(rules, limit)
    if old_count != new_count:  # a new shard group: named as a hazard by korefw diff
        return
    moved = {n for n in old if old[n] != new[n]}
    if not moved:
        # Adding (old -> new) or removing (new -> old): at the peak every rule of both
        # plans exists in its group; none moved, so the peak is the larger plan's load.
        peak: dict[tuple[int, int], int] = defaultdict(int)
        for r in rules:
            peak[(new[r.name], r.family)] += r.cost
        assert all(u <= limit for u in peak.values())
        return
    # Rules move only when one of the plans could not be hashed into that many groups
    # and was probed or packed instead (the documented fallbacks).
    def hashed(plan: list[EgressRulePlan], where: dict[str, int]) -> bool:
        home = {r.name: 1 + _jump(int(_digest(r.name), 16), old_count) for r in plan}
        return where == home and all(u <= limit for u in loads(plan, home).values())

    assert not (hashed(fewer, old) and hashed(rules, new))


def _digest(name: str) -> str:
    from korefw.core.plan.naming import digest

    return digest(name, length=16)


def test_jump_hash_moves_only_into_the_new_bucket() -> None:
    keys = range(0, 2**64, 2**64 // 5000)
    for n in range(1, 12):
        for k in keys:
            a, b = _jump(k, n), _jump(k, n + 1)
            assert a == b or b == n
    spread = Counter(_jump(k, 4) for k in keys)
    assert len(spread) == 4 and min(spread.values()) > 1000  # about 1250 each


def test_jump_hash_is_the_published_algorithm() -> None:
    # Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm" (2014). Values
    # other implementations publish: the PyPI package jump-consistent-hash's README
    # (jump.hash(256, 1024) == 520) and the test cases of a TypeScript port (key
    # 10863919174838991 -> 6 and 2016238256797177309 -> 3, with 11 buckets).
    assert _jump(256, 1024) == 520
    assert _jump(10863919174838991, 11) == 6
    assert _jump(2016238256797177309, 11) == 3
    assert [_jump(k, 1) for k in (0, 1, 2**63)] == [0, 0, 0]


def test_existing_group_and_shard_off_refuse_what_does_not_fit() -> None:
    rules = [egress(f"r{i}") for i in range(61)]
    for opts in (AwsOptions(existing_group=True), AwsOptions(shard=False)):
        with pytest.raises(PlanError, match="61 IPv4 quota units"):
            shard(rules, opts, "xx")
