"""An application's own Pulumi program that uses korefw's components as a library."""

import pulumi
import pulumi_aws.ec2 as ec2
import pulumi_aws.vpc as vpc

from korefw.aws import EgressSecurityGroup
from korefw.azure import EgressNetworkSecurityGroup
from korefw.core.read.regions import load_rules

config = pulumi.Config()

# 1. Kore's Japan rules, only the session border controllers and Twilio STUN, as a new
#    egress security group in this application's VPC (prefix lists where cheaper in quota).
app_vpc = ec2.Vpc("app", cidr_block="10.20.0.0/16")
rules = load_rules("jp").filter(sections=["AudioCodes", "Voice Gateway*", "Twilio STUN"])
kore_sg = EgressSecurityGroup(
    "kore-egress", rules=rules, vpc_id=app_vpc.id, mode="auto", name_prefix="app-jp"
)

# 2. The same rules in an existing Azure NSG, one NSG rule set per vendor section, with
#    priorities kept inside this application's band.
EgressNetworkSecurityGroup(
    "kore-egress-azure",
    rules=rules,
    resource_group_name="rg-app",
    network_security_group_name="nsg-app",
    merge="section",
    priority_band=(3000, 3099),
    name_prefix="app-jp",
)

# 3. Reuse the prefix lists a shared korefw stack already manages, through its outputs
#    (a list's key ends in a digest of the flows it is for; `korefw plan` shows them).
network = pulumi.StackReference(config.require("koreNetworkStack"))
stun_key = "twilio-stun-ipv4-c1e4c9"
stun_list = network.get_output("awsPrefixListIds").apply(lambda ids: ids[stun_key])
media_sg = ec2.SecurityGroup("media", vpc_id=app_vpc.id, description="media relays")
for protocol in ("tcp", "udp"):
    vpc.SecurityGroupEgressRule(
        f"media-turn-{protocol}",
        security_group_id=media_sg.id,
        ip_protocol=protocol,
        from_port=3478,
        to_port=3478,
        prefix_list_id=stun_list,
        description="Twilio TURN via the shared korefw prefix list",
    )

pulumi.export("koreSecurityGroupIds", kore_sg.security_group_ids)
pulumi.export("koreQuotaUsed", kore_sg.quota_used)
