"""``korefw audit aws`` and ``korefw audit azure``: compare live firewalls with the vendor's rules.

The SDKs are optional extras (``aws-audit``, ``azure-audit``), imported only when a
command runs; without them the command says which extra to install.
"""

from __future__ import annotations

import argparse
import os
import re
import urllib.parse

from ..core.errors import KorefwError
from .common import add_filter_arguments, load_filtered

AUDIT_EXIT_CODES = """exit codes:
  0  the groups allow exactly the region's IP flows
  1  they differ: each missing or extra flow is named with its group, and each rule wider
     than TCP/UDP (a * or -1 protocol), each NSG rule Azure would reject and each NSG open
     to the Internet through AllowInternetOutBound
  2  the question cannot be decided: a permission is missing (the IAM action or Azure
     role is named), the endpoint cannot be reached, nothing matches the selection, or a
     rule cannot be checked (an application security group, a prefix list not read)
"""


def _tag(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise KorefwError("expected KEY=VALUE", where="--tag", value=text)
    return key, value


#: botocore's check of a Region name (botocore.utils.validate_region_name).
_AWS_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")
#: Bound of --max-attempts: throttling retries back off, so an audit must end.
MAX_ATTEMPTS = 20


def _endpoint(url: str | None) -> str | None:
    """An http(s) URL with a host; None (the cloud's own endpoint) stays None, but an
    empty text is an error, not the real cloud."""
    if url is None:
        return None
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or not url.isprintable() or " " in url):  # fmt: skip
        raise KorefwError("expected an http:// or https:// URL with a host",
                          where="--endpoint-url", value=url)  # fmt: skip
    return url


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("rules", metavar="REGION|FILE",
                   help="Kore's region code (jp, ...) or a rules/vendor file to compare with")
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE",
                   help="select by tag (may repeat; values of one key are alternatives)")
    p.add_argument("--endpoint-url", metavar="URL",
                   help="the cloud API endpoint (tests, private endpoints, sovereign clouds)")
    add_filter_arguments(p)


def add_audit_command(sub: argparse._SubParsersAction) -> None:
    """``korefw audit aws|azure``."""
    p = sub.add_parser(
        "audit",
        help="compare deployed security groups or NSGs with the vendor's rules",
        description="Read security groups (AWS) or NSGs (Azure) from the cloud, including "
        "ones not managed with Pulumi, and check that they allow exactly the region's IP "
        "flows, with the same checks as `korefw verify`.",
    )
    clouds = p.add_subparsers(title="clouds", metavar="CLOUD")
    aws = clouds.add_parser(
        "aws",
        help="audit security groups (extra: aws-audit)",
        description="Read the selected security groups, their egress rules "
        "(DescribeSecurityGroupRules) and the managed prefix lists they name "
        "(GetManagedPrefixListEntries) in each account and Region. The groups of one "
        "account, Region and VPC together must allow exactly the region's IP flows. IAM "
        "actions: ec2:DescribeSecurityGroups, ec2:DescribeSecurityGroupRules, "
        "ec2:GetManagedPrefixListEntries (and sts:AssumeRole with --role-arn).",
        epilog=AUDIT_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(aws)
    aws.add_argument("--aws-region", action="append", default=[], metavar="REGION",
                     help="AWS Region to read (may repeat; default: the profile's)")
    aws.add_argument("--profile", action="append", default=[],
                     help="AWS profile, one account each (may repeat)")
    aws.add_argument("--role-arn", action="append", default=[], metavar="ARN",
                     help="IAM role to assume through STS, one account each (may repeat)")
    aws.add_argument("--group-id", action="append", default=[], metavar="SG",
                     help="select this security group (may repeat)")
    aws.add_argument("--vpc-id", action="append", default=[], metavar="VPC",
                     help="select the groups of this VPC (may repeat)")
    aws.add_argument("--retry-mode", choices=("standard", "adaptive"), default="standard",
                     help="botocore retry mode for throttling (default: standard)")
    aws.add_argument("--max-attempts", type=int, default=5, metavar="N",
                     help="botocore attempts per call, first included (default: 5, at most "
                     f"{MAX_ATTEMPTS})")
    aws.set_defaults(func=cmd_audit_aws)
    az = clouds.add_parser(
        "azure",
        help="audit NSGs (extra: azure-audit)",
        description="Read the selected NSGs and their rules, and check each one: "
        "its outbound rules in priority order (first match wins) must allow exactly the "
        "region's IP flows, and a Deny must close the NSG before Azure's default "
        "AllowInternetOutBound (65001). Needs Microsoft.Network/networkSecurityGroups/read "
        "(the Reader role); signs in with azure-identity's DefaultAzureCredential.",
        epilog=AUDIT_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(az)
    az.add_argument("--subscription", action="append", default=[], metavar="ID",
                    help="subscription to read (may repeat; default: AZURE_SUBSCRIPTION_ID)")
    az.add_argument("--resource-group", action="append", default=[], metavar="RG",
                    help="read only this resource group (may repeat)")
    az.add_argument("--egress-filtered-elsewhere", action="store_true",
                    help="other Internet egress is filtered elsewhere (an Azure Firewall with "
                    "a route table): an NSG without a closing Deny is accepted")
    az.set_defaults(func=cmd_audit_azure)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def cmd_audit_aws(args: argparse.Namespace) -> int:
    """Read the groups, print the audit report; exit 0, 1 or 2."""
    from ..audit.aws import AwsSelection, read_aws
    from ..core.check.audit import audit_aws

    tags = [_tag(t) for t in args.tag]
    if not (args.group_id or args.vpc_id or tags):
        raise KorefwError("select the groups with --group-id, --tag or --vpc-id",
                          where="korefw audit aws")  # fmt: skip
    if not 1 <= args.max_attempts <= MAX_ATTEMPTS:
        raise KorefwError(f"expected 1-{MAX_ATTEMPTS}", where="--max-attempts",
                          value=args.max_attempts)  # fmt: skip
    for region in args.aws_region:
        if not _AWS_REGION.fullmatch(region):
            raise KorefwError("not an AWS Region name", where="--aws-region", value=region)
    endpoint = _endpoint(args.endpoint_url)
    rules = load_filtered(args, "rules")
    sel = AwsSelection(regions=args.aws_region, profiles=args.profile, role_arns=args.role_arn,
                       group_ids=args.group_id, tags=tags, vpc_ids=args.vpc_id,
                       endpoint_url=endpoint, retry_mode=args.retry_mode,
                       max_attempts=args.max_attempts)  # fmt: skip
    groups, lists = read_aws(sel)
    result = audit_aws(groups, lists, rules)
    print(result.render())
    return result.exit_code


def cmd_audit_azure(args: argparse.Namespace) -> int:
    """Read the NSGs, print the audit report; exit 0, 1 or 2."""
    from ..audit.azure import AzureSelection, read_azure
    from ..core.check.audit import audit_azure

    tags = [_tag(t) for t in args.tag]
    endpoint = _endpoint(args.endpoint_url)
    subs = args.subscription or [s for s in [os.environ.get("AZURE_SUBSCRIPTION_ID")] if s]
    rules = load_filtered(args, "rules")
    nsgs = read_azure(AzureSelection(subs, args.resource_group, tags, endpoint))
    result = audit_azure(nsgs, rules, egress_filtered_elsewhere=args.egress_filtered_elsewhere)
    print(result.render())
    return result.exit_code
