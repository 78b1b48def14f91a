"""AWS security groups for a plan's egress rules: how many, and which rule goes where.

Part of the AWS planner (:func:`korefw.core.plan.aws_plan.plan_aws`): each security group
holds ``rule_limit`` quota units per IP version, and a rule's group must stay put when
other rows change, because Pulumi creates before it deletes: a rule that moves is
created in its new group while it still exists in the old one.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import replace
from typing import Any

from ..errors import PlanError
from ..rules.addresses import IPNetwork
from .aws_data import EgressRulePlan, GroupPlan
from .aws_options import DEFAULT_GROUPS_PER_INTERFACE, AwsOptions, description
from .naming import digest

#: Extra security groups hashed placement may use beyond the fewest that could hold the
#: rules, before falling back to probing (see :func:`shard`).
HASH_SPREAD = 2


def shard(
    egress: list[EgressRulePlan], opts: AwsOptions, region: str
) -> tuple[tuple[EgressRulePlan, ...], tuple[GroupPlan, ...]]:
    """Assign egress rules to security groups, each within ``rule_limit`` per IP version.

    Each rule goes to the group its own name hashes to (jump consistent hash over the
    group count). The count is the fewest the quota allows, or up to :data:`HASH_SPREAD`
    more (never past AWS's default of 5 groups per network interface unless the fewest
    already pass it), whichever first lets every group fit. A rule's group then depends
    on its name and the group count only, so while the count stays, adding or removing
    rows moves no other rule, and at the peak of an update (Pulumi creates before it
    deletes) a group holds no more than the larger of its old and new rule sets. A count
    that changes by one moves only the rules of the group added or removed.

    If no such count fits, rules whose hashed group is full go to the next group with
    room (heaviest first, then by name), so that only they move. If that fails too, or
    the fewest groups are more than 5 and hashing does not fit them, groups are filled in
    content order: as few as that order allows, but a rule added or removed moves rules
    across every later group boundary. ``korefw diff`` names any quota those moves pass
    at the peak.
    """
    limit = opts.rule_limit
    need = 1
    for family in (4, 6):
        total = sum(r.cost for r in egress if r.family == family)
        if total > limit and (opts.existing_group or not opts.shard):
            why = (
                "an existing security group cannot be sharded"
                if opts.existing_group
                else "sharding is off (shard=False)"
            )
            raise PlanError(
                f"the egress rules need {total} IPv{family} quota units in one security group, "
                f"over the rule_limit of {limit}; {why} (raise rule_limit if your quota allows, "
                "or select fewer sections)",
                where="rule_limit",
                value=limit,
            )
        need = max(need, -(-total // limit))
    for r in egress:
        if r.cost > limit:  # only a prefix-list reference can; _choose_list prevents it
            raise PlanError(
                f"egress rule {r.name} costs {r.cost} quota units, over the rule_limit",
                where="rule_limit",
                value=limit,
            )
    count, assigned = _place(egress, need, limit)
    keys = {r.name: _shard_key(r) for r in egress}  # parses each CIDR once
    out_rules = tuple(
        sorted(
            (replace(r, group=assigned[r.name]) for r in egress),
            key=lambda r: (r.group, keys[r.name]),
        )
    )
    return out_rules, _group_plans(out_rules, count, region)


def _group_plans(
    rules: tuple[EgressRulePlan, ...], count: int, region: str
) -> tuple[GroupPlan, ...]:
    """Groups 1..count with their rules (in plan order) and quota used per IP version."""
    names: dict[int, list[str]] = defaultdict(list)
    used: dict[int, dict[int, int]] = defaultdict(lambda: {4: 0, 6: 0})
    for r in rules:
        names[r.group].append(r.name)
        used[r.group][r.family] += r.cost
    # No name_prefix in the description: AWS replaces a group whose description changes,
    # and the network interfaces would stay on the old one.
    where = f" {region}" if region else ""
    return tuple(
        GroupPlan(
            index=i,
            description=description(f"korefw: egress rules for Kore.ai{where}, group {i}"),
            rules=tuple(names[i]),
            ipv4=used[i][4],
            ipv6=used[i][6],
        )
        for i in range(1, count + 1)
    )


def _place(egress: list[EgressRulePlan], need: int, limit: int) -> tuple[int, dict[str, int]]:
    """The group count and each rule's group (see :func:`shard`)."""
    # Spare groups only within AWS's default of security groups per network interface.
    cap = max(need, min(need + HASH_SPREAD, DEFAULT_GROUPS_PER_INTERFACE))
    keys = {r.name: int(digest(r.name, length=16), 16) for r in egress}  # one hash per rule
    for n in range(need, cap + 1):
        if (found := _hashed(egress, keys, n, limit)) is not None:
            return n, found
    if cap <= DEFAULT_GROUPS_PER_INTERFACE and (found := _probed(egress, keys, cap, limit)):
        return cap, found
    return _packed(egress, limit)


def _hashed(
    egress: list[EgressRulePlan], keys: dict[str, int], n: int, limit: int
) -> dict[str, int] | None:
    """Rule name -> group (1..n) by jump consistent hash, or None if a group passes ``limit``."""
    used: dict[tuple[int, int], int] = defaultdict(int)
    out: dict[str, int] = {}
    for r in egress:
        group = 1 + _jump(keys[r.name], n)
        used[(group, r.family)] += r.cost
        out[r.name] = group
    return None if any(u > limit for u in used.values()) else out


def _probed(
    egress: list[EgressRulePlan], keys: dict[str, int], n: int, limit: int
) -> dict[str, int] | None:
    """Each rule in its hashed group, or the next with room: heaviest first, then by name.

    Only the rules that find their group full move, so a plan that passes from hashed to
    probed placement at one group count moves a few rules, not most.
    """
    used: dict[tuple[int, int], int] = defaultdict(int)
    out: dict[str, int] = {}
    for r in sorted(egress, key=lambda r: (-r.cost, r.name)):
        home = _jump(keys[r.name], n)
        order = ((home + k) % n for k in range(n))
        group = next((g for g in order if used[(g, r.family)] + r.cost <= limit), None)
        if group is None:
            return None
        used[(group, r.family)] += r.cost
        out[r.name] = group + 1
    return out


def _packed(egress: list[EgressRulePlan], limit: int) -> tuple[int, dict[str, int]]:
    """Fill groups in content order (destination, protocol, ports), each up to ``limit``."""
    out: dict[str, int] = {}
    count = 1
    for family in (4, 6):
        group, room = 1, limit
        for r in sorted((r for r in egress if r.family == family), key=_shard_key):
            if r.cost > room:
                group, room = group + 1, limit
            out[r.name] = group
            room -= r.cost
        count = max(count, group)
    return count, out


def _jump(key: int, n: int) -> int:
    """Jump consistent hash (Lamping and Veach, 2014): ``key`` to a bucket in ``0..n-1``.

    Going from ``n`` to ``n + 1`` buckets moves only keys into the new bucket, and from
    ``n + 1`` to ``n`` only the new bucket's keys. Integer and IEEE double arithmetic only,
    so every machine gives the same buckets.
    """
    b, j = -1, 0
    while j < n:
        b = j
        key = (key * 2862933555777941757 + 1) % (1 << 64)
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def _shard_key(r: EgressRulePlan) -> tuple[Any, ...]:
    if r.cidr is not None:
        dest: tuple[Any, ...] = (0, *net_key(ipaddress.ip_network(r.cidr)), "")
    else:
        dest = (1, 0, 0, 0, r.prefix_list or "")
    return (*dest, r.protocol, r.from_port, r.to_port)


def net_key(net: IPNetwork) -> tuple[int, int, int]:
    """Sort key of a network: version, address, prefix length."""
    return (net.version, int(net.network_address), net.prefixlen)
