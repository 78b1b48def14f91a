"""Offline plans name resources as the engine does: URNs and aliases.

Pulumi's mock monitor builds a URN from the parent's own type only, so a grandchild's URN
(a prefix list under ``DestinationPrefixLists`` under ``EgressSecurityGroup``) differed
from what ``pulumi preview --json`` and ``pulumi stack export`` show, and it records no
aliases, so ``korefw diff`` could not see that a renamed resource is the same one. The
oracle here is Pulumi's own SDK: ``create_urn`` computes a URN from the parent's whole URN
as the engine's ``resource.NewURN`` does, and ``all_aliases`` computes the alias URNs
(the resource's own, and those inherited from its parent's aliases).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime.resource import all_aliases, create_urn

from korefw.core.check.steps import changes
from korefw.runtime.offline import run_offline


def _tree(expected: dict[str, Any], *, child_alias: str | None = "app-kid") -> None:
    parent = pulumi.ComponentResource(
        "test:index:Parent", "app", None, pulumi.ResourceOptions(aliases=[pulumi.Alias(name="old")])
    )
    aliases = [pulumi.Alias(name=child_alias)] if child_alias else []
    opts = pulumi.ResourceOptions(parent=parent, aliases=aliases)
    child = pulumi.ComponentResource("test:index:Child", "app-child", None, opts)
    opts = pulumi.ResourceOptions(parent=child)
    pulumi.ComponentResource("test:index:Grand", "app-child-g", None, opts)
    oracle = all_aliases(aliases, "app-child", "test:index:Child", parent)
    pulumi.Output.all(*oracle).apply(lambda xs: expected.setdefault("child", sorted(xs)))
    create_urn("app-child-g", "test:index:Grand", child).apply(
        lambda u: expected.setdefault("grand", u)
    )
    pulumi.Output.all(*child._aliases).apply(lambda xs: expected.setdefault("grand_parent", xs))


def test_urns_and_aliases_are_the_sdks() -> None:
    expected: dict[str, Any] = {}
    plan = run_offline(lambda: _tree(expected))
    by_name = {r.name: r for r in plan.resources}
    grand = by_name["app-child-g"]
    assert grand.urn == expected["grand"]
    assert "test:index:Parent$test:index:Child$test:index:Grand" in grand.urn
    assert by_name["app-child"].aliases == expected["child"]
    assert len(expected["child"]) == 3  # own, inherited, own under the inherited parent
    assert by_name["app"].aliases == ["urn:pulumi:dev::korefw::test:index:Parent::old"]
    # The grandchild inherits each of its parent's three aliases.
    assert len(grand.aliases) == 3
    assert all(a.endswith(("::app-kid-g", "::old-child-g", "::old-kid-g")) for a in grand.aliases)


def test_a_renamed_resource_is_the_same_resource_to_korefw_diff() -> None:
    def old_program() -> None:
        parent = pulumi.ComponentResource("test:index:Parent", "old")
        pulumi.ComponentResource(
            "test:index:Child", "old-child", None, pulumi.ResourceOptions(parent=parent)
        )

    old = run_offline(old_program).to_preview_json()
    new = run_offline(lambda: _tree({}, child_alias=None)).to_preview_json()
    ops = {urn.rsplit("::", 1)[-1]: c.op for urn, c in changes(old, new).items()}
    assert ops == {
        "korefw-dev": "same",
        "app": "same",
        "app-child": "same",
        "app-child-g": "create",
    }
