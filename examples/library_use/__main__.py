"""An application's own Pulumi program that uses korefw's components as a library."""

import pulumi
import pulumi_aws.ec2 as ec2
import pulumi_aws.vpc as vpc

from korefw.components.aws import EgressSecurityGroup
from korefw.components.azure import EgressNetworkSecurityGroup
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

# 3. Reuse the prefix lists a shared korefw stack already manages, through its outputs.
#    There is one list per section and vendor flow, keyed "<section>-ipv4-<protocol>-<ports>"
#    (`korefw plan` lists them), so a list allows exactly the ports in its key.
network = pulumi.StackReference(config.require("koreNetworkStack"))
list_ids = network.get_output("awsPrefixListIds")
media_sg = ec2.SecurityGroup("media", vpc_id=app_vpc.id, description="media relays")
for port in (3478, 5349):  # TURN and TURN over TLS, both tcp
    key = f"twilio-stun-ipv4-tcp-{port}"
    vpc.SecurityGroupEgressRule(
        f"media-turn-tcp-{port}",
        security_group_id=media_sg.id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        prefix_list_id=list_ids.apply(lambda ids, key=key: ids[key]),
        description="Twilio TURN via the shared korefw prefix list",
    )

pulumi.export("koreSecurityGroupIds", kore_sg.security_group_ids)
pulumi.export("koreQuotaUsed", kore_sg.quota_used)
