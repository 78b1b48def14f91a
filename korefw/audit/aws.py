"""Read security groups, their egress rules and prefix lists through boto3 (``aws-audit`` extra).

The calls, and the IAM actions they need: ``ec2:DescribeSecurityGroups`` (select the
groups), ``ec2:DescribeSecurityGroupRules`` (their egress rules),
``ec2:GetManagedPrefixListEntries`` (the lists the rules name) and, with a role,
``sts:AssumeRole``. Every list is read through boto3's paginators; throttling is retried
by botocore (``standard`` or ``adaptive`` retry mode). A missing permission, missing
credentials or an endpoint that cannot be reached is one :class:`AuditError` line.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..core.check.audit import AwsEgressRule, AwsGroup, PrefixList, tags_by_key
from ..core.errors import AuditError

#: Error codes AWS answers when the caller lacks the IAM permission for an action.
DENIED_CODES = frozenset({"UnauthorizedOperation", "AccessDenied", "AccessDeniedException",
                          "UnauthorizedAccess"})  # fmt: skip
#: How many values one ``group-id`` filter carries (EC2 accepts up to 200).
_FILTER_CHUNK = 100


@dataclass(frozen=True)
class AwsSelection:
    """Which groups to read, where, and as whom."""

    regions: Sequence[str] = ()
    profiles: Sequence[str] = ()
    role_arns: Sequence[str] = ()
    group_ids: Sequence[str] = ()
    tags: Sequence[tuple[str, str]] = ()
    vpc_ids: Sequence[str] = ()
    endpoint_url: str | None = None
    retry_mode: str = "standard"
    max_attempts: int = 5


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:
        raise AuditError("needs boto3: pip install 'korefw[aws-audit]'",
                         where="korefw audit aws") from None  # fmt: skip
    return boto3


@contextmanager
def _translated(where: str, endpoint: str | None = None) -> Iterator[None]:
    """botocore's exceptions as one line naming ``where`` (and the IAM action when denied)."""
    from botocore import exceptions as bx

    try:
        yield
    except bx.ClientError as exc:
        err = exc.response.get("Error", {})
        code, message = err.get("Code", "?"), str(err.get("Message", "")).splitlines()
        service = "sts" if exc.operation_name in ("AssumeRole", "GetCallerIdentity") else "ec2"
        action = f"{service}:{exc.operation_name}"
        if code in DENIED_CODES:
            raise AuditError(f"not allowed to call {action} ({code}); grant the IAM action "
                             f"{action}", where=where) from None  # fmt: skip
        first = message[0][:200] if message else ""
        raise AuditError(f"{action} failed: {code}: {first}", where=where) from None
    except (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ConnectionClosedError,
            bx.ReadTimeoutError) as exc:  # fmt: skip
        url = exc.kwargs.get("endpoint_url") or endpoint or "the endpoint"
        raise AuditError(f"cannot reach {url} ({type(exc).__name__})", where=where) from None
    except (bx.NoCredentialsError, bx.PartialCredentialsError):
        raise AuditError("no AWS credentials: set a profile (--profile, AWS_PROFILE) or the "
                         "AWS_ACCESS_KEY_ID environment", where=where) from None  # fmt: skip
    except (bx.ProfileNotFound, bx.NoRegionError, bx.ParamValidationError) as exc:
        # ParamValidationError says what is wrong on the lines after its first.
        text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise AuditError(text[:300], where=where) from None
    except bx.BotoCoreError as exc:  # an unreadable answer, ...: still one line
        text = (str(exc).splitlines() or [""])[0][:200]
        raise AuditError(f"{type(exc).__name__}: {text}", where=where) from None


def read_aws(sel: AwsSelection) -> tuple[list[AwsGroup], list[PrefixList]]:
    """The selected groups (with their egress rules) and the prefix lists they name."""
    boto3 = _boto3()
    from botocore.config import Config

    config = Config(retries={"mode": sel.retry_mode, "total_max_attempts": sel.max_attempts},
                    connect_timeout=10, read_timeout=60)  # fmt: skip
    groups: list[AwsGroup] = []
    lists: list[PrefixList] = []
    for who, session in _sessions(boto3, sel, config):
        regions = list(sel.regions) or [session.region_name]
        if not regions[0]:
            raise AuditError("no AWS Region: pass --aws-region or set AWS_REGION", where=who)
        for region in regions:
            where = f"aws {who} {region}"
            ec2 = session.client("ec2", region_name=region, endpoint_url=sel.endpoint_url,
                                 config=config)  # fmt: skip
            with _translated(where, sel.endpoint_url):
                found = read_region(ec2, sel, region)
            groups += found[0]
            lists += found[1]
    unseen = sorted(set(sel.group_ids) - {g.group_id for g in groups})
    if unseen:
        raise AuditError("security group not found in the accounts and Regions read",
                         where="--group-id", value=", ".join(unseen))  # fmt: skip
    if not groups:
        raise AuditError("no security group matches the selection",
                         where="korefw audit aws")  # fmt: skip
    return groups, lists


def _sessions(boto3: Any, sel: AwsSelection, config: Any) -> Iterator[tuple[str, Any]]:
    """(who, session) for each profile, then each assumed role (from the first profile)."""
    where = "aws " + (f"profile {sel.profiles[0]}" if sel.profiles else "default credentials")
    with _translated(where, sel.endpoint_url):
        base = [(f"profile {p}", boto3.Session(profile_name=p)) for p in sel.profiles]
        first = base[0][1] if base else boto3.Session()
    if not sel.role_arns:
        yield from base or [("default credentials", first)]
        return
    yield from base
    for arn in sel.role_arns:
        who = f"role {arn}"
        with _translated(f"aws {who}", sel.endpoint_url):
            region = first.region_name or next(iter(sel.regions), None)
            sts = first.client("sts", endpoint_url=sel.endpoint_url, config=config,
                               region_name=region)  # fmt: skip
            creds = sts.assume_role(RoleArn=arn, RoleSessionName="korefw-audit")["Credentials"]
        yield who, boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=first.region_name,
        )


def _filters(sel: AwsSelection) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if sel.group_ids:
        out.append({"Name": "group-id", "Values": list(sel.group_ids)})
    if sel.vpc_ids:
        out.append({"Name": "vpc-id", "Values": list(sel.vpc_ids)})
    out += [{"Name": f"tag:{k}", "Values": v} for k, v in tags_by_key(sel.tags).items()]
    return out


def read_region(
    ec2: Any, sel: AwsSelection, region: str
) -> tuple[list[AwsGroup], list[PrefixList]]:
    """The groups ``sel`` selects in one account and Region, through an EC2 client."""
    described = [
        g
        for page in ec2.get_paginator("describe_security_groups").paginate(Filters=_filters(sel))
        for g in page["SecurityGroups"]
    ]
    rules: dict[str, list[AwsEgressRule]] = {g["GroupId"]: [] for g in described}
    ids = sorted(rules)
    paginator = ec2.get_paginator("describe_security_group_rules")
    for i in range(0, len(ids), _FILTER_CHUNK):
        chunk = ids[i : i + _FILTER_CHUNK]
        for page in paginator.paginate(Filters=[{"Name": "group-id", "Values": chunk}]):
            for r in page["SecurityGroupRules"]:
                if r.get("IsEgress") and r.get("GroupId") in rules:
                    rules[r["GroupId"]].append(_egress_rule(r))
    groups = [
        AwsGroup(g["GroupId"], g.get("GroupName", ""), g.get("VpcId", ""), g.get("OwnerId", "?"),
                 region, tuple(sorted(rules[g["GroupId"]], key=lambda r: r.rule_id)))
        for g in described
    ]  # fmt: skip
    wanted = sorted({r.prefix_list_id for g in groups for r in g.egress if r.prefix_list_id})
    entries = ec2.get_paginator("get_managed_prefix_list_entries")
    lists = [
        PrefixList(pl, groups[0].account, region, tuple(
            e["Cidr"] for page in entries.paginate(PrefixListId=pl) for e in page["Entries"]
        ))
        for pl in wanted
    ]  # fmt: skip
    return groups, lists


def _egress_rule(r: dict[str, Any]) -> AwsEgressRule:
    return AwsEgressRule(
        rule_id=r.get("SecurityGroupRuleId", "?"),
        protocol=str(r.get("IpProtocol", "")),
        from_port=r.get("FromPort"),
        to_port=r.get("ToPort"),
        cidr_ipv4=r.get("CidrIpv4"),
        cidr_ipv6=r.get("CidrIpv6"),
        prefix_list_id=r.get("PrefixListId"),
        referenced_group_id=(r.get("ReferencedGroupInfo") or {}).get("GroupId"),
        description=r.get("Description", ""),
    )
