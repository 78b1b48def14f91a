// korefw's components from TypeScript. `pulumi package add ../../provider` (run in this
// folder) generates the `@pulumi/korefw` SDK into sdks/korefw and adds it to package.json.
import * as aws from "@pulumi/aws";
import * as korefw from "@pulumi/korefw";

const vpc = new aws.ec2.Vpc("app", { cidrBlock: "10.20.0.0/16" });

// Kore's Japan rules, session border controllers and Twilio STUN only, as a new egress
// security group in this VPC (prefix lists where cheaper in quota).
const koreSg = new korefw.EgressSecurityGroup("kore-egress", {
    rules: "jp",
    sections: ["AudioCodes", "Voice Gateway*", "Twilio STUN"],
    vpcId: vpc.id,
    mode: "auto",
    namePrefix: "app-jp",
    tags: { Owner: "network-team" },
});

// The same rules in an existing Azure NSG, one NSG rule set per vendor section.
const koreNsg = new korefw.EgressNetworkSecurityGroup("kore-egress-azure", {
    rules: "jp",
    sections: ["AudioCodes", "Voice Gateway*", "Twilio STUN"],
    resourceGroupName: "rg-app",
    networkSecurityGroupName: "nsg-app",
    merge: "section",
    priorityBand: [3000, 3099],
    namePrefix: "app-jp",
});

export const koreSecurityGroupIds = koreSg.securityGroupIds;
export const koreQuotaUsed = koreSg.quotaUsed;
export const koreNsgRules = koreNsg.rules;
