"""The CrossGuard policy pack in policy/, driven over gRPC as the Pulumi engine drives it.

The engine (sdk/python/cmd/pulumi-language-python RunPlugin, kind analyzer) starts a Python
policy pack as ``python -u -m pulumi.policy ENGINE_ADDRESS POLICY_DIR`` in the pack's folder,
with the stack's config in PULUMI_CONFIG and PULUMI_PROJECT/STACK/DRY_RUN set, reads the port
it prints, then calls GetAnalyzerInfo, Configure (every policy's config, defaults filled in
from its schema), Analyze for each resource and AnalyzeStack once. The resources here come from
korefw's offline plans of the example stacks (``korefw plan --stack NAME --json``).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from korefw.runtime.preview import plan_stack

ROOT = Path(__file__).resolve().parents[1]
POLICY_DIR = ROOT / "policy"
EXAMPLES = {"example-jp-aws": "jp", "example-jp-azure": "jp", "example-de-both": "de"}
MANDATORY = analyzer_pb2.MANDATORY
ADVISORY = analyzer_pb2.ADVISORY
RESOURCE_POLICY = "kore-egress-within-vendor-rules"
STACK_POLICY = "kore-egress-stack"
DENY_POLICY = "kore-nsg-closing-deny"


@contextlib.contextmanager
def start_pack(stack_config: dict[str, Any]) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """Start the policy pack as the engine does, with this stack config; a client to it."""
    env = {
        **os.environ,
        "PULUMI_CONFIG": json.dumps(stack_config),
        "PULUMI_PROJECT": "korefw",
        "PULUMI_STACK": "example-jp-aws",
        "PULUMI_DRY_RUN": "true",
    }
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(POLICY_DIR)],
            cwd=POLICY_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        if not line.isdigit():
            proc.kill()
            proc.wait()
            err.seek(0)
            pytest.fail(f"policy pack did not print its port: {line!r}\n{err.read().decode()}")
        channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        try:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
        finally:
            channel.close()
            proc.terminate()
            proc.wait()


@pytest.fixture(scope="module")
def pack() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """The policy pack, started once for the module (the stack's korefw:region: jp)."""
    with start_pack({"korefw:region": "jp"}) as stub:
        yield stub


@pytest.fixture(scope="module")
def plans() -> dict[str, list[dict[str, Any]]]:
    """Each example stack's resource states, from korefw's offline plan."""
    return {
        s: [step["newState"] for step in json.loads(plan_stack(s).dumps())["steps"]]
        for s in EXAMPLES
    }


def configure(stub: analyzer_pb2_grpc.AnalyzerStub, **props: str) -> None:
    """Configure every policy as the engine does: its default level, plus ``props``."""
    info = stub.GetAnalyzerInfo(empty_pb2.Empty())
    config = {}
    for p in info.policies:
        properties = struct_pb2.Struct()
        if p.configSchema.properties:
            properties.update(props)
        config[p.name] = analyzer_pb2.PolicyConfig(
            enforcementLevel=p.enforcementLevel, properties=properties
        )
    stub.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=config))


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(value)
    return s


def analyze(stub, states: list[dict[str, Any]]) -> list[analyzer_pb2.AnalyzeDiagnostic]:  # type: ignore[no-untyped-def]
    """Analyze every resource, then the stack; all diagnostics."""
    out: list[analyzer_pb2.AnalyzeDiagnostic] = []
    resources = []
    for s in states:
        opts = analyzer_pb2.AnalyzerResourceOptions(parent=s.get("parent", ""))
        fields = dict(
            type=s["type"],
            urn=s["urn"],
            name=s["urn"].rsplit("::", 1)[-1],
            properties=_struct(s.get("inputs") or {}),
            options=opts,
        )
        for d in stub.Analyze(analyzer_pb2.AnalyzeRequest(**fields)).diagnostics:
            # The engine files a resource policy's violation under the analyzed resource.
            d.urn = d.urn or s["urn"]
            out.append(d)
        deps = {
            k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v)
            for k, v in (s.get("propertyDependencies") or {}).items()
        }
        resources.append(
            analyzer_pb2.AnalyzerResource(
                **fields, parent=s.get("parent", ""), propertyDependencies=deps
            )
        )
    out += stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources)).diagnostics
    return list(out)


def mandatory(diags: list[analyzer_pb2.AnalyzeDiagnostic]) -> list[analyzer_pb2.AnalyzeDiagnostic]:
    return [d for d in diags if d.enforcementLevel == MANDATORY]


def find(states: list[dict[str, Any]], type_suffix: str, **inputs: Any) -> dict[str, Any]:
    """The first state of a type whose inputs have these values."""
    for s in states:
        if s["type"].endswith(type_suffix) and all(
            s.get("inputs", {}).get(k) == v for k, v in inputs.items()
        ):
            return s
    raise AssertionError(f"no {type_suffix} with {inputs}")


def test_pack_describes_itself_as_the_engine_reads_it(pack) -> None:  # type: ignore[no-untyped-def]
    info = pack.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "korefw-egress"
    assert info.supportsConfig
    levels = {p.name: p.enforcementLevel for p in info.policies}
    assert levels == {RESOURCE_POLICY: MANDATORY, STACK_POLICY: MANDATORY, DENY_POLICY: ADVISORY}
    types = {p.name: p.policy_type for p in info.policies}
    assert types[RESOURCE_POLICY] == analyzer_pb2.POLICY_TYPE_RESOURCE
    assert types[STACK_POLICY] == types[DENY_POLICY] == analyzer_pb2.POLICY_TYPE_STACK
    schema = next(p for p in info.policies if p.name == RESOURCE_POLICY).configSchema
    assert set(schema.properties) == {"region", "scope"}
    assert list(schema.properties["scope"]["enum"]) == ["korefw-managed", "kore-addresses"]


def test_policy_project_file_uses_only_fields_the_engine_knows() -> None:
    # sdk/go/common/workspace/project.go: PolicyPackProject's yaml fields.
    doc = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    known = {"runtime", "version", "main", "description", "author", "website", "license"}
    assert set(doc) <= known
    assert doc["runtime"]["name"] == "python"
    # sdk/python/cmd/pulumi-language-python parseOptions: the options it reads.
    options = doc["runtime"]["options"]
    assert set(options) <= {"virtualenv", "typechecker", "toolchain"}
    assert options["toolchain"] in ("pip", "poetry", "uv")
    # The pack's virtualenv is ignored by git like the project's own (".venv/" at any depth).
    assert (
        options["virtualenv"] == ".venv" and ".venv/" in (ROOT / ".gitignore").read_text().split()
    )


@pytest.mark.parametrize("scope", ["korefw-managed", "kore-addresses"])
@pytest.mark.parametrize("stack", list(EXAMPLES))
def test_every_example_plan_passes(pack, plans, stack: str, scope: str) -> None:  # type: ignore[no-untyped-def]
    configure(pack, region=EXAMPLES[stack], scope=scope)
    diags = analyze(pack, plans[stack])
    assert mandatory(diags) == []
    advisories = [d.policyName for d in diags if d.enforcementLevel == ADVISORY]
    # example-de-both adds rules to an existing NSG without korefw's closing Deny rule.
    assert advisories == ([DENY_POLICY] if stack == "example-de-both" else [])


def test_region_defaults_to_the_stacks_korefw_region(pack, plans) -> None:  # type: ignore[no-untyped-def]
    configure(pack)  # no region: the pack reads korefw:region (jp) from the stack's config
    states = copy.deepcopy(plans["example-jp-aws"])
    find(states, "SecurityGroupEgressRule", cidrIpv4="13.115.244.0/27", fromPort=3478)["inputs"][
        "cidrIpv4"
    ] = "13.115.244.0/26"
    [d] = mandatory(analyze(pack, states))
    assert "published jp rules" in d.message


def test_without_a_region_the_stack_is_stopped_once(plans) -> None:  # type: ignore[no-untyped-def]
    with start_pack({"aws:region": "ap-northeast-1"}) as stub:  # a program with no korefw:region
        info = stub.GetAnalyzerInfo(empty_pb2.Empty())
        schema = next(p for p in info.policies if p.name == RESOURCE_POLICY).configSchema
        assert "jp" in list(schema.properties["region"]["enum"])  # the engine rejects others
        configure(stub)
        [d] = mandatory(analyze(stub, plans["example-jp-aws"]))
        assert d.policyName == STACK_POLICY and "no region" in d.message
        configure(stub, region="jp")
        assert mandatory(analyze(stub, plans["example-jp-aws"])) == []


def test_widened_aws_egress_rule_gives_one_violation(pack, plans) -> None:  # type: ignore[no-untyped-def]
    configure(pack, region="jp")
    states = copy.deepcopy(plans["example-jp-aws"])
    rule = find(states, "SecurityGroupEgressRule", cidrIpv4="13.115.244.0/27", ipProtocol="udp")
    rule["inputs"]["cidrIpv4"] = "13.115.244.0/26"
    [d] = mandatory(analyze(pack, states))
    assert (d.policyName, d.urn) == (RESOURCE_POLICY, rule["urn"])
    assert "udp 3478 → 13.115.244.32/27" in d.message
    # The README quotes this violation (the policy's description, then the finding).
    readme = (ROOT / "README.md").read_text()
    assert all(line in readme for line in d.message.splitlines())
    assert rule["urn"].rsplit("::", 1)[-1] in readme


def test_aws_rule_switched_to_all_protocols_gives_one_violation(pack, plans) -> None:  # type: ignore[no-untyped-def]
    configure(pack, region="jp")
    states = copy.deepcopy(plans["example-jp-aws"])
    rule = find(states, "SecurityGroupEgressRule", cidrIpv4="13.115.244.0/27", fromPort=443)
    rule["inputs"].update(ipProtocol="-1", fromPort=-1, toPort=-1)
    [d] = mandatory(analyze(pack, states))
    assert d.urn == rule["urn"]
    assert "'-1' (all protocols)" in d.message
    finding = d.message.splitlines()[-1]
    assert " ".join((ROOT / "README.md").read_text().split()).count(finding) == 1


def test_wider_port_range_gives_one_violation(pack, plans) -> None:  # type: ignore[no-untyped-def]
    configure(pack, region="jp")
    states = copy.deepcopy(plans["example-jp-aws"])
    rule = find(states, "SecurityGroupEgressRule", cidrIpv4="13.115.244.0/27", fromPort=443)
    rule["inputs"]["toPort"] = 444
    [d] = mandatory(analyze(pack, states))
    assert "tcp 444 → 13.115.244.0/27" in d.message


def test_azure_inline_nsg_rules_widened_or_all_protocols(pack, plans) -> None:  # type: ignore[no-untyped-def]
    configure(pack, region="jp")
    states = copy.deepcopy(plans["example-jp-azure"])
    nsg = find(states, "network:NetworkSecurityGroup")
    rules = nsg["inputs"]["securityRules"]
    stun = next(r for r in rules if "13.115.244.0/27" in r.get("destinationAddressPrefixes", []))
    stun["destinationAddressPrefixes"][0] = "13.115.244.0/26"
    [d] = mandatory(analyze(pack, states))
    assert d.urn == nsg["urn"] and "13.115.244.32/27" in d.message

    stun["destinationAddressPrefixes"][0] = "13.115.244.0/27"
    stun["protocol"] = "*"
    [d] = mandatory(analyze(pack, states))
    assert "'*' (all protocols)" in d.message


def test_azure_security_rule_all_protocols_and_dropped_deny(pack, plans) -> None:  # type: ignore[no-untyped-def]
    configure(pack, region="de")
    states = copy.deepcopy(plans["example-de-both"])
    rule = find(states, "network:SecurityRule", protocol="Tcp")
    rule["inputs"]["protocol"] = "*"
    [d] = mandatory(analyze(pack, states))
    assert (d.policyName, d.urn) == (RESOURCE_POLICY, rule["urn"])

    configure(pack, region="jp")
    states = copy.deepcopy(plans["example-jp-azure"])
    nsg = find(states, "network:NetworkSecurityGroup")
    nsg["inputs"]["securityRules"] = [
        r for r in nsg["inputs"]["securityRules"] if r["access"] == "Allow"
    ]
    diags = analyze(pack, states)
    assert mandatory(diags) == []
    [d] = [d for d in diags if d.policyName == DENY_POLICY]
    assert d.enforcementLevel == ADVISORY and "AllowInternetOutBound" in d.message


def _out_of_band(stack: str, cidr: str, **extra: Any) -> dict[str, Any]:
    """An egress rule the application's own program adds (no korefw component above it)."""
    type_ = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
    return {
        "type": type_,
        "urn": f"urn:pulumi:{stack}::korefw::{type_}::ssh",
        "parent": f"urn:pulumi:{stack}::korefw::pulumi:pulumi:Stack::korefw-{stack}",
        "inputs": {
            "securityGroupId": "sg-0aaaaaaaaaaaaaaaa",
            "ipProtocol": "tcp",
            "fromPort": 22,
            "toPort": 22,
            "cidrIpv4": cidr,
        },
        **extra,
    }


def test_out_of_band_rule_to_kore_addresses_only_in_that_scope(pack, plans) -> None:  # type: ignore[no-untyped-def]
    states = [*plans["example-jp-aws"], _out_of_band("example-jp-aws", "13.115.244.0/27")]
    configure(pack, region="jp", scope="korefw-managed")
    assert mandatory(analyze(pack, states)) == []
    configure(pack, region="jp", scope="kore-addresses")
    [d] = mandatory(analyze(pack, states))
    assert d.urn == states[-1]["urn"] and "tcp 22 → 13.115.244.0/27" in d.message
    # Egress elsewhere is none of this pack's business, in either scope.
    other = [*plans["example-jp-aws"], _out_of_band("example-jp-aws", "198.51.100.0/24")]
    assert mandatory(analyze(pack, other)) == []


def test_out_of_band_rule_on_korefws_security_group(pack, plans) -> None:  # type: ignore[no-untyped-def]
    sg = find(plans["example-jp-aws"], "securityGroup:SecurityGroup")
    rogue = _out_of_band(
        "example-jp-aws", "198.51.100.0/24", propertyDependencies={"securityGroupId": [sg["urn"]]}
    )
    for scope in ("korefw-managed", "kore-addresses"):
        configure(pack, region="jp", scope=scope)
        [d] = mandatory(analyze(pack, [*plans["example-jp-aws"], rogue]))
        assert (d.policyName, d.urn) == (STACK_POLICY, rogue["urn"])
        assert "out-of-band" in d.message and sg["urn"].rsplit("::", 1)[-1] in d.message


def test_out_of_band_rule_on_korefws_security_group_by_literal_id(pack, plans) -> None:  # type: ignore[no-untyped-def]
    """No propertyDependencies: the rule names the group by its id, which AnalyzeStack sees
    among the group's outputs (``AnalyzeResources`` in pkg/resource/deploy/step_generator.go)."""
    states = copy.deepcopy(plans["example-jp-aws"])
    sg = find(states, "securityGroup:SecurityGroup")
    sg["inputs"]["id"] = "sg-0aaaaaaaaaaaaaaaa"  # as in its outputs
    rogue = _out_of_band("example-jp-aws", "198.51.100.0/24")
    assert "securityGroupId" not in (rogue.get("propertyDependencies") or {})
    for scope in ("korefw-managed", "kore-addresses"):
        configure(pack, region="jp", scope=scope)
        [d] = mandatory(analyze(pack, [*states, rogue]))
        assert (d.policyName, d.urn) == (STACK_POLICY, rogue["urn"])
        assert "out-of-band" in d.message
    rogue["inputs"]["securityGroupId"] = "sg-0bbbbbbbbbbbbbbbb"  # another group: not korefw's
    assert mandatory(analyze(pack, [*states, rogue])) == []


def test_widened_prefix_list_entry_is_caught_through_the_rules(pack, plans) -> None:  # type: ignore[no-untyped-def]
    configure(pack, region="de")
    states = copy.deepcopy(plans["example-de-both"])
    [pl] = [
        s
        for s in states
        if s["type"].endswith("managedPrefixList:ManagedPrefixList")
        and s["inputs"]["name"] == "kore-de-de-twilio-stun-ipv4-tcp-3478"
    ]
    entry = next(e for e in pl["inputs"]["entries"] if e["cidr"] == "52.59.186.0/27")
    entry["cidr"] = "52.59.186.0/26"
    diags = mandatory(analyze(pack, states))
    users = {
        s["urn"]
        for s in states
        if pl["urn"] in (s.get("propertyDependencies") or {}).get("prefixListId", [])
    }
    assert users and {d.urn for d in diags} == users
    assert all(d.policyName == STACK_POLICY for d in diags)
    assert all(
        "through its prefix list" in d.message and "52.59.186.32/27" in d.message for d in diags
    )


def test_unknown_values_during_preview_are_not_violations(pack, plans) -> None:  # type: ignore[no-untyped-def]
    configure(pack, region="de")
    states = copy.deepcopy(plans["example-de-both"])
    rule = find(states, "SecurityGroupEgressRule", ipProtocol="tcp", fromPort=3478)
    rule["inputs"]["prefixListId"] = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    assert mandatory(analyze(pack, states)) == []
    rule["inputs"]["toPort"] = 3479  # its ports alone are already wider than Kore's
    [d] = mandatory(analyze(pack, states))
    assert d.urn == rule["urn"] and "3479" in d.message


# A hostile or mistaken value in korefw's own rules: one mandatory violation on that
# resource, as the engine receives it (numbers arrive as floats through the gRPC Struct),
# never a gRPC error that fails the preview without saying which rule.
ODD_AWS = [
    ({"fromPort": "443,8443"}, "fromPort: expected a port number 0-65535 (or -1) (got '443,8443')"),
    ({"fromPort": "nan"}, "fromPort: expected a port number"),
    ({"toPort": "inf"}, "toPort: expected a port number"),
    ({"toPort": 443.5}, "toPort: expected a port number"),
    ({"fromPort": True}, "fromPort: expected a port number"),
    ({"fromPort": [[443]]}, "fromPort: expected a port number"),
    ({"toPort": "44³"}, "toPort: expected a port number"),
    ({"cidrIpv4": "13.115.244.0/255.255.255.224"}, "cidrIpv4: expected an IPv4 CIDR"),
    ({"ipProtocol": "icmp", "fromPort": 8, "toPort": 0}, "protocol 'icmp' (not TCP/UDP)"),
    ({"cidrIpv4": None, "referencedSecurityGroupId": "sg-0123456789abcdef0"},
     "egress to security group sg-0123456789abcdef0 allows whatever addresses its members hold"),
]  # fmt: skip


def test_odd_values_are_violations_not_engine_errors(pack, plans) -> None:  # type: ignore[no-untyped-def]
    configure(pack, region="jp")
    for edit, text in ODD_AWS:
        states = copy.deepcopy(plans["example-jp-aws"])
        rule = find(states, "SecurityGroupEgressRule", cidrIpv4="13.115.244.0/27", fromPort=443)
        rule["inputs"].update(edit)
        rule["inputs"] = {k: v for k, v in rule["inputs"].items() if v is not None}
        [d] = mandatory(analyze(pack, states))
        assert (d.policyName, d.urn) == (RESOURCE_POLICY, rule["urn"]), d
        assert text in d.message, (edit, d.message)


@pytest.mark.parametrize(
    ("edit", "text"),
    [
        ({"access": "Allow "}, "access: expected Allow or Deny (got 'Allow ')"),
        ({"destinationPortRanges": None, "destinationPortRange": ""}, "destinationPortRange(s)"),
        ({"destinationAddressPrefixes": ["13.115.244.0/255.255.255.224"]}, "not a netmask"),
    ],
)
def test_odd_azure_values_are_violations(pack, plans, edit: dict, text: str) -> None:  # type: ignore[no-untyped-def]
    configure(pack, region="jp")
    states = copy.deepcopy(plans["example-jp-azure"])
    nsg = find(states, "network:NetworkSecurityGroup")
    stun = next(r for r in nsg["inputs"]["securityRules"] if r["protocol"] == "Tcp"
                and "13.115.244.0/27" in r.get("destinationAddressPrefixes", []))  # fmt: skip
    stun.update(edit)
    for key in [k for k, v in stun.items() if v is None]:
        del stun[key]
    [d] = mandatory(analyze(pack, states))
    assert (d.policyName, d.urn) == (RESOURCE_POLICY, nsg["urn"]) and text in d.message


@pytest.mark.parametrize(
    ("edit", "gap"),
    [
        ({"destinationPortRange": "443"}, "leaves tcp 0-442"),
        ({"protocol": "Tcp"}, "protocol 'Tcp' only"),
        ({"sourceAddressPrefix": "10.1.2.3/32"}, "limited by sourceAddressPrefix"),
        ({"destinationAddressPrefix": "0.0.0.0/0"}, "no IPv6 destination"),
    ],
)
def test_closing_deny_advisory_fires_for_a_narrow_deny(pack, plans, edit: dict, gap: str) -> None:  # type: ignore[no-untyped-def]
    configure(pack, region="jp")
    states = copy.deepcopy(plans["example-jp-azure"])
    nsg = find(states, "network:NetworkSecurityGroup")
    deny = next(r for r in nsg["inputs"]["securityRules"] if r["access"] == "Deny")
    deny.update(edit)
    diags = analyze(pack, states)
    assert mandatory(diags) == []
    [d] = [d for d in diags if d.policyName == DENY_POLICY]
    assert d.enforcementLevel == ADVISORY and "AllowInternetOutBound" in d.message
    assert f"NSG rule {deny['name']!r} does not deny all other outbound traffic" in d.message
    assert gap in d.message
