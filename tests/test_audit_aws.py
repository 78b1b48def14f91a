"""``korefw audit aws`` against moto's server mode (a real EC2/IAM/STS API on 127.0.0.1).

The server enforces IAM after its first three requests: the fixture spends them on an
admin user, whose keys every test then uses; the read-only user of the permission test
is created through IAM like any other.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import run_cli

from korefw.core.plan.aws_options import AwsOptions
from korefw.core.plan.aws_plan import plan_aws
from korefw.core.read.regions import load_rules

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

REGION = "ap-northeast-1"
ADMIN_POLICY = {"Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto() -> Iterator[dict[str, str]]:
    """A moto server with IAM enforced; yields the endpoint and an admin's keys."""
    port = _free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("moto server exited")
                time.sleep(0.1)
        iam = _client("iam", {"url": url, "key": "testing", "secret": "testing"})
        iam.create_user(UserName="admin")
        key = iam.create_access_key(UserName="admin")["AccessKey"]
        iam.put_user_policy(UserName="admin", PolicyName="all",
                            PolicyDocument=json.dumps(ADMIN_POLICY))  # fmt: skip
        yield {"url": url, "key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def env(moto: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> dict[str, str]:
    """The admin's keys in the environment, no shared config files."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto["secret"])
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return moto


def _client(service: str, moto: dict[str, str]) -> Any:
    return boto3.client(
        service, endpoint_url=moto["url"], region_name=REGION,
        aws_access_key_id=moto["key"], aws_secret_access_key=moto["secret"],
    )  # fmt: skip


def _ec2(moto: dict[str, str]) -> Any:
    return _client("ec2", moto)


def _deploy(moto: dict[str, str], tag: str, options: AwsOptions) -> dict[str, Any]:
    """Create korefw's plan for Japan through boto3 in a new VPC: groups, rules, lists."""
    ec2 = _ec2(moto)
    plan = plan_aws(load_rules("jp"), options)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    lists = {}
    for pl in plan.prefix_lists:
        lists[pl.key] = ec2.create_managed_prefix_list(
            PrefixListName=pl.name, MaxEntries=pl.max_entries, AddressFamily=pl.address_family,
            Entries=[{"Cidr": e.cidr, "Description": e.description} for e in pl.entries],
        )["PrefixList"]["PrefixListId"]  # fmt: skip
    groups = {}
    for g in plan.groups:
        gid = ec2.create_security_group(
            GroupName=f"korefw-{tag}-{g.index}", Description=g.description, VpcId=vpc,
            TagSpecifications=[{"ResourceType": "security-group",
                                "Tags": [{"Key": "korefw", "Value": tag}]}],
        )["GroupId"]  # fmt: skip
        # Pulumi removes the default allow-all egress rule of a new group; so does this.
        ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])  # fmt: skip
        groups[g.index] = gid
    for r in plan.rules:
        perm: dict[str, Any] = {"IpProtocol": r.protocol, "FromPort": r.from_port,
                                "ToPort": r.to_port}  # fmt: skip
        if r.prefix_list:
            perm["PrefixListIds"] = [{"PrefixListId": lists[r.prefix_list]}]
        elif r.family == 6:
            perm["Ipv6Ranges"] = [{"CidrIpv6": r.cidr}]
        else:
            perm["IpRanges"] = [{"CidrIp": r.cidr}]
        ec2.authorize_security_group_egress(GroupId=groups[r.group], IpPermissions=[perm])
    return {"vpc": vpc, "groups": groups, "lists": lists, "plan": plan, "ec2": ec2}


def _audit(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> tuple[int, str, str]:
    return run_cli(capsys, "audit", "aws", "jp", "--endpoint-url", url,
                   "--aws-region", REGION, *args)  # fmt: skip


@pytest.fixture(scope="module")
def sharded(moto: dict[str, str]) -> dict[str, Any]:
    """Japan in CIDR mode over several groups (10 rules each) in one VPC."""
    return _deploy(moto, "sharded", AwsOptions(rule_limit=10))


def test_the_plan_as_deployed_audits_exact(env, sharded, capsys) -> None:  # type: ignore[no-untyped-def]
    assert len(sharded["groups"]) > 1  # the groups of one VPC are compared together
    code, out, err = _audit(capsys, env["url"], "--tag", "korefw=sharded")
    assert (code, err) == (0, ""), out + err
    assert f"OK: aws account 123456789012 {REGION} {sharded['vpc']}" in out
    listed = next(ln for ln in out.splitlines() if ": security groups " in ln)
    assert all(f"{gid} (korefw-sharded-{n})" in listed for n, gid in sharded["groups"].items())
    # Selecting the same groups by id gives the same verdict.
    ids = [a for g in sharded["groups"].values() for a in ("--group-id", g)]
    assert _audit(capsys, env["url"], *ids)[0] == 0


def test_prefix_lists_are_read_and_compared(env, moto, capsys) -> None:  # type: ignore[no-untyped-def]
    d = _deploy(moto, "lists", AwsOptions(mode="prefix-list"))
    assert d["lists"]
    code, out, err = _audit(capsys, env["url"], "--vpc-id", d["vpc"], "--tag", "korefw=lists")
    assert (code, err) == (0, ""), out + err
    # An entry added to one list outside korefw is an extra flow on the group using it.
    key, pl = next(iter(d["lists"].items()))
    version = d["ec2"].describe_managed_prefix_lists(PrefixListIds=[pl])["PrefixLists"][0]
    d["ec2"].modify_managed_prefix_list(PrefixListId=pl, CurrentVersion=version["Version"],
                                        AddEntries=[{"Cidr": "198.51.100.0/24"}])  # fmt: skip
    code, out, _ = _audit(capsys, env["url"], "--tag", "korefw=lists")
    flow = d["plan"].prefix_list(key).flows[0]
    port = flow[1] if flow[1] == flow[2] else f"{flow[1]}-{flow[2]}"
    assert code == 1
    assert f"extra   {flow[0]} {port} → 198.51.100.0/24 (in {d['groups'][1]} (korefw-lists-1))" \
        in out  # fmt: skip


@pytest.mark.parametrize("tamper", ["widened", "extra", "missing", "all-protocol"])
def test_each_tampering_differs_naming_flow_and_group(env, moto, capsys, tamper) -> None:  # type: ignore[no-untyped-def]
    d = _deploy(moto, f"t-{tamper}", AwsOptions())
    ec2, gid = d["ec2"], d["groups"][1]
    rule = next(r for r in d["plan"].rules if r.group == 1 and r.cidr and r.family == 4)
    perm = {"IpProtocol": rule.protocol, "FromPort": rule.from_port, "ToPort": rule.to_port,
            "IpRanges": [{"CidrIp": rule.cidr}]}  # fmt: skip
    if tamper == "widened":  # the same rule, to every port
        ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[perm])
        ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[
            {**perm, "FromPort": 0, "ToPort": 65535}])  # fmt: skip
        expect = f"extra   {rule.protocol} 0-"
    elif tamper == "extra":
        ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
             "IpRanges": [{"CidrIp": "203.0.113.7/32"}]}])  # fmt: skip
        expect = "extra   tcp 22 → 203.0.113.7/32 (in"
    elif tamper == "missing":
        ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[perm])
        expect = f"missing {rule.protocol} {rule.from_port}"
    else:
        ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])  # fmt: skip
        expect = f"wider than TCP or UDP: protocol '-1' in {gid} egress rule sgr-"
    code, out, err = _audit(capsys, env["url"], "--tag", f"korefw=t-{tamper}")
    assert (code, err) == (1, ""), out + err
    assert f"FAIL: aws account 123456789012 {REGION} {d['vpc']}" in out
    line = next((ln for ln in out.splitlines() if expect in ln), None)
    assert line is not None, out
    if tamper != "missing":
        assert gid in line  # the group that allows it is named
    if tamper == "missing":
        assert rule.cidr in line


def test_a_new_group_with_the_default_rule_differs(env, moto, capsys) -> None:  # type: ignore[no-untyped-def]
    ec2 = _ec2(moto)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    gid = ec2.create_security_group(GroupName="fresh", Description="d", VpcId=vpc)["GroupId"]
    code, out, _ = _audit(capsys, env["url"], "--group-id", gid)
    assert code == 1
    assert f"protocol '-1' in {gid} egress rule" in out


def test_missing_permission_is_one_line_naming_the_action(env, moto, capsys) -> None:  # type: ignore[no-untyped-def]
    iam = _client("iam", moto)
    iam.create_user(UserName="reader")
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:DescribeSecurityGroups", "Resource": "*"}]}  # fmt: skip
    iam.put_user_policy(UserName="reader", PolicyName="sg", PolicyDocument=json.dumps(only))
    vpc = _ec2(moto).create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    os.environ["AWS_ACCESS_KEY_ID"] = key["AccessKeyId"]  # monkeypatch (env) restores it
    os.environ["AWS_SECRET_ACCESS_KEY"] = key["SecretAccessKey"]
    code, out, err = _audit(capsys, env["url"], "--vpc-id", vpc)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1, err
    assert "not allowed to call ec2:DescribeSecurityGroupRules" in err
    assert "Traceback" not in err


def test_assumed_role_is_read_through_sts(env, moto, sharded, capsys) -> None:  # type: ignore[no-untyped-def]
    iam = _client("iam", moto)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"AWS": "arn:aws:iam::123456789012:user/admin"}}]}  # fmt: skip
    arn = iam.create_role(RoleName="korefw-audit",
                          AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]  # fmt: skip
    iam.put_role_policy(RoleName="korefw-audit", PolicyName="all",
                        PolicyDocument=json.dumps(ADMIN_POLICY))  # fmt: skip
    code, out, err = _audit(capsys, env["url"], "--role-arn", arn, "--tag", "korefw=sharded")
    assert (code, err) == (0, ""), out + err


def test_unreachable_endpoint_is_one_line(env, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"http://127.0.0.1:{_free_port()}"
    code, out, err = _audit(capsys, url, "--tag", "korefw=x", "--max-attempts", "1")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and f"cannot reach {url}" in err, err


def test_nothing_selected_is_undecided(env, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = _audit(capsys, env["url"], "--tag", "korefw=nothing-has-this")
    assert code == 2 and "no security group matches" in err
    code, _, err = _audit(capsys, env["url"], "--group-id", "sg-0123456789abcdef0")
    assert code == 2 and "--group-id: security group not found" in err


def test_every_page_is_read() -> None:
    """Groups, rules and prefix list entries over two pages each (botocore's Stubber)."""
    from botocore.stub import ANY, Stubber

    from korefw.audit.aws import AwsSelection, read_region

    ec2 = boto3.client("ec2", region_name=REGION, aws_access_key_id="k",
                       aws_secret_access_key="s")  # fmt: skip
    sg = {"GroupName": "g", "VpcId": "vpc-1", "OwnerId": "111"}
    rule = {"GroupId": "sg-1", "IsEgress": True, "IpProtocol": "tcp", "FromPort": 443,
            "ToPort": 443}  # fmt: skip
    with Stubber(ec2) as stub:
        stub.add_response("describe_security_groups",
                          {"SecurityGroups": [{**sg, "GroupId": "sg-1"}], "NextToken": "a"},
                          {"Filters": ANY})  # fmt: skip
        stub.add_response("describe_security_groups",
                          {"SecurityGroups": [{**sg, "GroupId": "sg-2"}]},
                          {"Filters": ANY, "NextToken": "a"})  # fmt: skip
        stub.add_response("describe_security_group_rules", {"SecurityGroupRules": [
            {**rule, "SecurityGroupRuleId": "sgr-1", "CidrIpv4": "192.0.2.1/32"},
            {**rule, "SecurityGroupRuleId": "sgr-in", "IsEgress": False, "CidrIpv4": "0.0.0.0/0"},
        ], "NextToken": "b"}, {"Filters": ANY})  # fmt: skip
        stub.add_response("describe_security_group_rules", {"SecurityGroupRules": [
            {**rule, "SecurityGroupRuleId": "sgr-2", "GroupId": "sg-2", "PrefixListId": "pl-1"},
        ]}, {"Filters": ANY, "NextToken": "b"})  # fmt: skip
        stub.add_response("get_managed_prefix_list_entries",
                          {"Entries": [{"Cidr": "198.51.100.0/24"}], "NextToken": "c"},
                          {"PrefixListId": "pl-1"})  # fmt: skip
        stub.add_response("get_managed_prefix_list_entries",
                          {"Entries": [{"Cidr": "203.0.113.0/24"}]},
                          {"PrefixListId": "pl-1", "NextToken": "c"})  # fmt: skip
        groups, lists = read_region(ec2, AwsSelection(tags=[("k", "v")]), REGION)
        stub.assert_no_pending_responses()
    assert [(g.group_id, [r.rule_id for r in g.egress]) for g in groups] == [
        ("sg-1", ["sgr-1"]), ("sg-2", ["sgr-2"])]  # fmt: skip
    assert [(p.list_id, p.cidrs) for p in lists] == [
        ("pl-1", ("198.51.100.0/24", "203.0.113.0/24"))]  # fmt: skip


class _Throttle:
    """A proxy to moto that answers the first ``n`` requests with EC2's throttling error."""

    BODY = (b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>'
            b"<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
            b"</Error></Errors><RequestID>r</RequestID></Response>")  # fmt: skip

    def __init__(self, target: str, n: int) -> None:
        import http.server
        import threading

        self.left, self.throttled = n, 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.left > 0:
                    outer.left -= 1
                    outer.throttled += 1
                    self._answer(503, outer.BODY)
                    return
                # The Host header is signed: keep it, so moto checks the same signature.
                req = urllib.request.Request(target + self.path, data=body, method="POST",
                                             headers=dict(self.headers.items()))  # fmt: skip
                try:
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        self._answer(resp.status, resp.read())
                except urllib.error.HTTPError as exc:
                    self._answer(exc.code, exc.read())

            def _answer(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.mark.parametrize("mode", ["standard", "adaptive"])
def test_throttling_is_retried(env, sharded, capsys, mode) -> None:  # type: ignore[no-untyped-def]
    proxy = _Throttle(env["url"], 2)
    try:
        code, out, err = _audit(capsys, proxy.url, "--tag", "korefw=sharded",
                                "--retry-mode", mode)  # fmt: skip
        assert (code, err) == (0, ""), out + err
        assert proxy.throttled == 2
        proxy.left = 1
        code, out, err = _audit(capsys, proxy.url, "--tag", "korefw=sharded",
                                "--max-attempts", "1")  # fmt: skip
        assert (code, out) == (2, "")
        assert err.count("\n") == 1 and "RequestLimitExceeded" in err, err
    finally:
        proxy.httpd.shutdown()
        proxy.httpd.server_close()
