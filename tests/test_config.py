"""Stack settings: the schema, Pulumi.yaml, and one-line errors naming file, key and value."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from korefw.core.errors import ConfigError
from korefw.core.plan.config import SCHEMA, project_schema, validate

ROOT = Path(__file__).resolve().parent.parent
WHERE = "stacks/Pulumi.t.yaml"
AWS = {"korefw:awsVpcId": "vpc-0a1b2c3d4e5f67890"}


def test_pulumi_yaml_config_block_is_the_schema() -> None:
    doc = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert doc["config"] == project_schema(), "regenerate Pulumi.yaml's config from SCHEMA"
    assert doc["stackConfigDir"] == "stacks"
    assert doc["runtime"]["name"] == "python"
    for key, entry in doc["config"].items():
        assert entry["description"] and "type" in entry and "default" in entry, key


def test_defaults_fill_every_key() -> None:
    cfg = validate(AWS, where=WHERE)
    assert set(cfg.values) == set(SCHEMA)
    assert cfg["awsRuleLimit"] == 60 and cfg["azurePriorityBand"] == [1000, 1999]


def test_engine_style_json_values_are_read() -> None:
    cfg = validate(
        {
            **AWS,
            "korefw:awsRuleLimit": "40",
            "korefw:targets": '["aws"]',
            "korefw:awsShard": "false",
        },
        where=WHERE,
    )
    assert cfg["awsRuleLimit"] == 40 and cfg["awsShard"] is False and cfg["targets"] == ["aws"]


def test_other_namespaces_pass_through() -> None:
    validate({**AWS, "aws:region": "ap-northeast-1", "azure-native:location": "x"}, where=WHERE)


@pytest.mark.parametrize(
    ("raw", "key", "value"),
    [
        ({"korefw:regoin": "jp"}, "korefw:regoin", "'jp'"),
        ({"korefw:region": "mars"}, "korefw:region", "'mars'"),
        ({"korefw:awsVpcId": "vpc_123"}, "korefw:awsVpcId", "'vpc_123'"),
        ({**AWS, "korefw:awsSecurityGroupId": "sg-0123456789abcdef0"}, "korefw:awsVpcId", ""),
        ({}, "korefw:awsVpcId", "''"),
        ({**AWS, "korefw:awsMode": "cheap"}, "korefw:awsMode", "'cheap'"),
        ({**AWS, "korefw:awsRuleLimit": 0}, "korefw:awsRuleLimit", "0"),
        ({**AWS, "korefw:awsRuleLimit": "sixty"}, "korefw:awsRuleLimit", "'sixty'"),
        ({**AWS, "korefw:awsShard": "yes"}, "korefw:awsShard", "'yes'"),
        ({**AWS, "korefw:targets": ["gcp"]}, "korefw:targets", "['gcp']"),
        ({**AWS, "korefw:tags": ["novalue"]}, "korefw:tags", "['novalue']"),
        ({**AWS, "korefw:tags": ["Env=a", "env=b"]}, "korefw:tags", "['Env=a', 'env=b']"),
        ({**AWS, "korefw:tags": ["Env=a", "Env=b"]}, "korefw:tags", "['Env=a', 'Env=b']"),
        (
            {"korefw:targets": ["azure"], "korefw:azureResourceGroupName": "rg..x"},
            "korefw:azureResourceGroupName", "'rg..x'",
        ),
        (
            {"korefw:targets": ["azure"], "korefw:azureResourceGroupName": "rg",
             "korefw:azureNetworkSecurityGroupName": "nsg..app"},
            "korefw:azureNetworkSecurityGroupName", "'nsg..app'",
        ),
        (
            {"korefw:targets": ["azure"], "korefw:azureResourceGroupName": "rg",
             "korefw:azureNetworkSecurityGroupName": "nsg-"},
            "korefw:azureNetworkSecurityGroupName", "'nsg-'",
        ),
        (
            {"korefw:targets": ["azure"], "korefw:azureResourceGroupName": "rg",
             "korefw:azureSourceAddressPrefixes": ["Internet"]},
            "korefw:azureSourceAddressPrefixes", "['Internet']",
        ),
        ({"korefw:targets": ["azure"]}, "korefw:azureResourceGroupName", "''"),
        (
            {"korefw:targets": ["azure"], "korefw:azureResourceGroupName": "rg",
             "korefw:azurePriorityBand": [50, 99]},
            "korefw:azurePriorityBand", "[50, 99]",
        ),
        (
            {"korefw:targets": ["azure"], "korefw:azureResourceGroupName": "rg",
             "korefw:azureMerge": "some"},
            "korefw:azureMerge", "'some'",
        ),
    ],
)  # fmt: skip
def test_bad_settings_fail_with_one_line(raw: dict, key: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate(raw, where=WHERE)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{WHERE}: {key}")
    assert value in message


def test_typo_suggests_the_key() -> None:
    with pytest.raises(ConfigError, match="did you mean korefw:awsVpcId"):
        validate({"korefw:awsVpcID": "vpc-0a1b2c3d4e5f67890"}, where=WHERE)
