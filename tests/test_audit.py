"""The audit comparison (``korefw.core.check.audit``) on plain data, and the lazy SDK imports.

The clouds' own stand-ins are in ``test_audit_aws.py`` (moto) and ``test_audit_azure.py``
(a local HTTPS server); these tests need no SDK.
"""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from korefw.core.check.audit import (
    AwsEgressRule,
    AwsGroup,
    Nsg,
    NsgRule,
    PrefixList,
    audit_aws,
    audit_azure,
)
from korefw.core.plan.aws_options import AwsOptions
from korefw.core.plan.aws_plan import plan_aws
from korefw.core.plan.azure_options import AzureOptions
from korefw.core.plan.azure_plan import plan_azure
from korefw.core.read.regions import load_rules

JP = load_rules("jp")


def _groups(options: AwsOptions, vpc: str = "vpc-1") -> tuple[list[AwsGroup], list[PrefixList]]:
    """korefw's AWS plan for Japan as DescribeSecurityGroupRules would report it."""
    plan = plan_aws(JP, options)
    ids = {pl.key: f"pl-{n:04x}" for n, pl in enumerate(plan.prefix_lists)}
    lists = [PrefixList(ids[pl.key], "111", "ap-northeast-1", tuple(e.cidr for e in pl.entries))
             for pl in plan.prefix_lists]  # fmt: skip
    groups = []
    for g in plan.groups:
        rules = tuple(
            AwsEgressRule(f"sgr-{g.index}-{n}", r.protocol, r.from_port, r.to_port,
                          cidr_ipv4=r.cidr if r.family == 4 else None,
                          cidr_ipv6=r.cidr if r.family == 6 else None,
                          prefix_list_id=ids[r.prefix_list] if r.prefix_list else None)
            for n, r in enumerate(x for x in plan.rules if x.group == g.index)
        )  # fmt: skip
        groups.append(AwsGroup(f"sg-{g.index}", f"korefw-{g.index}", vpc, "111",
                               "ap-northeast-1", rules))  # fmt: skip
    return groups, lists


@settings(max_examples=15, deadline=None)
@given(mode=st.sampled_from(["cidr", "prefix-list", "auto"]), limit=st.integers(5, 60),
       data=st.data())  # fmt: skip
def test_a_plan_as_reported_is_exact_and_any_rule_removed_differs(mode, limit, data) -> None:  # type: ignore[no-untyped-def]
    groups, lists = _groups(AwsOptions(mode=mode, rule_limit=limit))
    assert audit_aws(groups, lists, JP).exit_code == 0
    g = data.draw(st.sampled_from([g for g in groups if g.egress]))
    drop = data.draw(st.integers(0, len(g.egress) - 1))
    fewer = AwsGroup(g.group_id, g.name, g.vpc_id, g.account, g.region,
                     g.egress[:drop] + g.egress[drop + 1 :])  # fmt: skip
    result = audit_aws([fewer if x is g else x for x in groups], lists, JP)
    assert result.exit_code == 1
    assert "missing" in result.render()


def test_groups_are_compared_per_vpc() -> None:
    one, lists = _groups(AwsOptions(rule_limit=10), "vpc-1")
    two, _ = _groups(AwsOptions(rule_limit=10), "vpc-2")
    half = two[: len(two) // 2]  # vpc-2 lacks some of the groups
    result = audit_aws(one + half, lists, JP)
    assert result.exit_code == 1
    text = result.render()
    assert "OK: aws account 111 ap-northeast-1 vpc-1" in text
    assert "FAIL: aws account 111 ap-northeast-1 vpc-2" in text


def test_egress_to_a_security_group_counts_as_every_address() -> None:
    groups, lists = _groups(AwsOptions())
    g = groups[0]
    ref = AwsGroup(g.group_id, g.name, g.vpc_id, g.account, g.region,
                   (*g.egress, AwsEgressRule("sgr-x", "tcp", 443, 443,
                                             referenced_group_id="sg-other")))  # fmt: skip
    result = audit_aws([ref, *groups[1:]], lists, JP)
    assert result.exit_code == 1
    text = result.render()
    assert "sg-1 egress rule sgr-x: egress to security group sg-other" in text
    assert ("extra   tcp 443 → 0.0.0.0/0 except 13.115.244.0/27, 18.180.220.128/25, "
            "54.65.63.192/26 (in sg-1 (korefw-1))") in text


def test_a_prefix_list_not_read_is_undecided() -> None:
    groups, lists = _groups(AwsOptions())
    g = groups[0]
    pl = AwsGroup(g.group_id, g.name, g.vpc_id, g.account, g.region,
                  (*g.egress, AwsEgressRule("sgr-y", "tcp", 443, 443, prefix_list_id="pl-gone")))
    result = audit_aws([pl, *groups[1:]], lists, JP)
    assert result.exit_code == 2 and "pl-gone" in result.render()


def _nsg(rules: tuple[NsgRule, ...]) -> Nsg:
    return Nsg("/subscriptions/s/resourceGroups/rg/providers/x/nsg", "nsg", "s", "rg", rules)


def _japan_nsg_rules(deny: bool = True) -> tuple[NsgRule, ...]:
    plan = plan_azure(JP, AzureOptions(deny_other_outbound=deny))
    return tuple(
        NsgRule(r.name, r.priority, "Outbound", r.access, r.protocol,
                destination_address_prefixes=r.destination_address_prefixes,
                destination_port_ranges=r.destination_port_ranges)
        for r in plan.nsg_rules
    )  # fmt: skip


def test_azure_priority_order_decides() -> None:
    rules = _japan_nsg_rules()
    assert audit_azure([_nsg(rules)], JP).exit_code == 0
    deny_first = NsgRule("deny-all", 100, "Outbound", "Deny", "*", "*",
                         destination_port_range="*")  # fmt: skip
    result = audit_azure([_nsg((*rules, deny_first))], JP)
    assert result.exit_code == 1 and result.render().count("missing ") > 0
    inbound_star = NsgRule("in", 300, "Inbound", "Allow", "*", "*", destination_port_range="*")
    assert audit_azure([_nsg((*rules, inbound_star))], JP).exit_code == 0
    duplicate = NsgRule("twin", rules[0].priority, "Outbound", "Allow", "Tcp", "192.0.2.1",
                        destination_port_range="443")  # fmt: skip
    text = audit_azure([_nsg((*rules, duplicate))], JP).render()
    assert "rejected by the cloud" in text and "share priority" in text and "'twin'" in text


def test_azure_without_the_deny_is_open() -> None:
    result = audit_azure([_nsg(_japan_nsg_rules(deny=False))], JP)
    assert result.exit_code == 1 and "open to the Internet" in result.render()
    filtered = audit_azure([_nsg(_japan_nsg_rules(deny=False))], JP,
                           egress_filtered_elsewhere=True)  # fmt: skip
    assert filtered.exit_code == 0


_SDKS = ("boto3", "botocore", "azure.mgmt.network", "azure.identity", "azure.core", "moto")


def test_the_base_install_imports_no_cloud_sdk() -> None:
    """Every command but audit, and audit's parser, load neither boto3 nor the Azure SDK."""
    code = (
        "import sys, contextlib, io\n"
        "from korefw.cli.app import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['rules', 'jp']); main(['check', 'jp', '--protocol', 'tcp', '--port', '5060',"
        " '--to', '18.177.19.211'])\n"
        "    with contextlib.suppress(SystemExit): main(['audit', 'aws', '--help'])\n"
        "import korefw.core.check.audit, korefw.audit, korefw.cli.audit\n"
        f"bad = sorted(n for n in sys.modules if n.startswith({_SDKS!r}))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_missing_extra_is_one_line_naming_it() -> None:
    """With the SDKs absent (import blocked), audit says which extra to install."""
    code = (
        "import sys\n"
        "for n in ('boto3', 'azure.mgmt.network', 'azure.identity'): sys.modules[n] = None\n"
        "from korefw.cli.app import main\n"
        "a = main(['audit', 'aws', 'jp', '--tag', 'k=v'])\n"
        "b = main(['audit', 'azure', 'jp', '--subscription', 's'])\n"
        "assert (a, b) == (2, 2), (a, b)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert lines == [
        "korefw: error: korefw audit aws: needs boto3: pip install 'korefw[aws-audit]'",
        "korefw: error: korefw audit azure: needs azure-mgmt-network and azure-identity: pip "
        "install 'korefw[azure-audit]'",
    ]


def test_azure_a_deny_limited_by_source_does_not_close() -> None:
    rules = _japan_nsg_rules()
    deny = next(r for r in rules if r.access == "Deny")
    limited = NsgRule(deny.name, deny.priority, "Outbound", "Deny", "*",
                      destination_address_prefixes=deny.destination_address_prefixes,
                      destination_port_ranges=deny.destination_port_ranges,
                      source_address_prefix="10.1.0.0/24")  # fmt: skip
    result = audit_azure([_nsg((*(r for r in rules if r is not deny), limited))], JP)
    assert result.exit_code == 1 and "open to the Internet" in result.render()


def _cli(capsys, *argv: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    from korefw.cli.app import main

    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_bad_audit_arguments_are_one_line_before_any_cloud_call(
    capsys, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    """An empty --endpoint-url would silently mean the real cloud; a malformed Region or
    URL was a botocore traceback; retries are bounded so a throttled audit ends."""
    import korefw.audit.aws as aws_reader
    import korefw.audit.azure as azure_reader

    def never(*args: object) -> None:
        raise AssertionError("the cloud was called")

    monkeypatch.setattr(aws_reader, "read_aws", never)
    monkeypatch.setattr(azure_reader, "read_azure", never)
    aws = ["audit", "aws", "jp", "--vpc-id", "vpc-12345678"]
    azure = ["audit", "azure", "jp", "--subscription", "s"]
    cases = [
        ([*aws, "--endpoint-url", ""], "--endpoint-url: "),
        ([*aws, "--endpoint-url", "ftp://x"], "--endpoint-url: "),
        ([*aws, "--endpoint-url", "http://"], "--endpoint-url: "),
        ([*azure, "--endpoint-url", ""], "--endpoint-url: "),
        ([*azure, "--endpoint-url", "localhost:8443"], "--endpoint-url: "),
        ([*aws, "--aws-region", "us east"], "--aws-region: "),
        ([*aws, "--aws-region", "../x"], "--aws-region: "),
        ([*aws, "--aws-region", ""], "--aws-region: "),
        ([*aws, "--max-attempts", "1000000"], "--max-attempts: "),
    ]
    for argv, message in cases:
        code, out, err = _cli(capsys, *argv)
        assert (code, out) == (2, ""), argv
        assert err.count("\n") == 1 and message in err, (argv, err)


def test_a_malformed_role_arn_names_what_is_wrong(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """botocore's ParamValidationError says what is wrong on its second line; the one
    line kept only the first ('Parameter validation failed:')."""
    for key, value in (("AWS_ACCESS_KEY_ID", "x"), ("AWS_SECRET_ACCESS_KEY", "y"),
                       ("AWS_EC2_METADATA_DISABLED", "true")):  # fmt: skip
        monkeypatch.setenv(key, value)
    code, out, err = _cli(capsys, "audit", "aws", "jp", "--vpc-id", "vpc-12345678",
                          "--aws-region", "ap-northeast-1", "--role-arn", "nope",
                          "--endpoint-url", "http://127.0.0.1:9",
                          "--max-attempts", "1")  # fmt: skip
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "RoleArn" in err, err
