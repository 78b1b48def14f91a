"""The Pulumi component package: its schema, the plugin over gRPC, construct(), bad inputs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi.provider.server import ComponentInitError
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from korefw.cli import main
from korefw.components.aws import EgressSecurityGroup
from korefw.components.azure import EgressNetworkSecurityGroup
from korefw.core.errors import ConfigError, KorefwError
from korefw.core.plan.config import validate
from korefw.core.plan.options import COMPONENT_OPTIONS, resolve
from korefw.runtime import package
from korefw.runtime.offline import OfflinePlan, run_offline
from korefw.runtime.preview import load_stack
from korefw.runtime.program import aws_kwargs, azure_kwargs

ROOT = Path(__file__).resolve().parent.parent
METASCHEMA = ROOT / "tests" / "pulumi_metaschema" / "pulumi.json"
VPC = "vpc-0123456789abcdef0"
SCHEMA_TYPES = {"string", "integer", "boolean", "array", "object"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return package.schema()


def _metaschema() -> dict[str, Any]:
    # JSON Schema patterns are ECMA-262 regexes; Python's re (which jsonschema uses) spells
    # the metaschema's named groups (?<name>...) as (?P<name>...).
    text = re.sub(r"\(\?<([A-Za-z]\w*)>", r"(?P<\1>", METASCHEMA.read_text())
    return json.loads(text)


def test_schema_validates_against_pulumis_metaschema(schema: dict[str, Any]) -> None:
    meta = _metaschema()
    jsonschema.Draft202012Validator.check_schema(meta)
    jsonschema.Draft202012Validator(meta).validate(schema)


def test_metaschema_catches_what_pulumi_rejects(schema: dict[str, Any]) -> None:
    # The validation is real: Pulumi's metaschema rejects an unknown property type.
    bad = json.loads(json.dumps(schema))
    res = bad["resources"]["korefw:index:EgressSecurityGroup"]
    res["inputProperties"]["vpcId"]["type"] = "uuid"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(_metaschema()).validate(bad)


def test_schema_lists_both_egress_components_with_typed_inputs_and_outputs(
    schema: dict[str, Any],
) -> None:
    sg = schema["resources"]["korefw:index:EgressSecurityGroup"]
    nsg = schema["resources"]["korefw:index:EgressNetworkSecurityGroup"]
    assert sg["isComponent"] and nsg["isComponent"]
    # Resource ids may be other resources' outputs; options are plain (the plan needs them).
    assert sg["inputProperties"]["vpcId"] == {
        "description": "VPC in which to create new egress security groups (or securityGroupId).",
        "type": "string",
    }
    assert sg["inputProperties"]["ruleLimit"]["type"] == "integer"
    assert sg["inputProperties"]["ruleLimit"]["plain"] is True
    assert nsg["inputProperties"]["resourceGroupName"]["type"] == "string"
    assert nsg["inputProperties"]["priorityBand"]["items"]["type"] == "integer"
    assert set(nsg["requiredInputs"]) == {"rules", "resourceGroupName"}
    assert sg["properties"]["securityGroupIds"] == {"type": "array", "items": {"type": "string"}}
    assert sg["properties"]["ruleCount"] == {"type": "integer"}
    assert nsg["properties"]["networkSecurityGroupId"] == {"type": "string"}
    assert "networkSecurityGroupId" not in nsg["required"]  # None for an empty existing NSG
    assert set(schema["resources"]) == {
        "korefw:index:EgressSecurityGroup",
        "korefw:index:DestinationPrefixLists",
        "korefw:index:FqdnAllowlist",
        "korefw:index:EgressNetworkSecurityGroup",
    }


def test_schema_inputs_are_the_declared_options(schema: dict[str, Any]) -> None:
    for component, options in COMPONENT_OPTIONS.items():
        res = schema["resources"][f"korefw:index:{component}"]
        props = res["inputProperties"]
        assert list(props) == [o.camel for o in options], component
        for o in options:
            p = props[o.camel]
            assert p["type"] == ("object" if o.type == "map" else o.type), o.name
            assert p["type"] in SCHEMA_TYPES
            assert p.get("plain", False) is not o.input, o.name
            assert p["description"].startswith(o.doc()), o.name
        assert set(res.get("requiredInputs", [])) == {o.camel for o in options if o.required}


def test_korefw_schema_prints_the_served_schema(
    schema: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == schema


def test_plugin_manifest_names_the_python_runtime() -> None:
    manifest = (ROOT / "provider" / "PulumiPlugin.yaml").read_text()
    assert re.search(r"^runtime: python$", manifest, re.M)
    assert "component_provider_host(" in (ROOT / "provider" / "__main__.py").read_text()


def test_plugin_host_answers_get_schema_over_grpc(schema: dict[str, Any]) -> None:
    # As the engine starts a plugin: run it with the engine's address; it prints its port.
    # GetSchema needs no engine, so the address is never dialled.
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "provider" / "__main__.py"), "127.0.0.1:1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT / "provider",
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            reply = stub.GetSchema(provider_pb2.GetSchemaRequest(version=0))
        assert json.loads(reply.schema) == schema
    finally:
        proc.kill()
        proc.wait()


# --------------------------------------------------------------------------- construct()


def _wire(value: Any) -> Any:
    """A value as it crosses gRPC: a protobuf Struct has lists, and only float numbers."""
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _inputs(component: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Python keyword arguments as the engine hands them to Construct: schema names,
    wire values, absent for None."""
    return {
        o.camel: _wire(v)
        for o in COMPONENT_OPTIONS[component]
        if (v := kwargs.get(o.name)) is not None
    }


def _stack_kwargs(stack: str) -> tuple[str, dict[str, Any]]:
    cfg = validate(load_stack(stack), where=stack)
    if "aws" in cfg["targets"]:
        return "EgressSecurityGroup", {"rules": cfg["region"], **aws_kwargs(cfg)}
    return "EgressNetworkSecurityGroup", {"rules": cfg["region"], **azure_kwargs(cfg)}


def _construct(component: str, inputs: dict[str, Any]) -> OfflinePlan:
    provider = package.provider()
    return run_offline(lambda: provider.construct("kf", f"korefw:index:{component}", inputs, None))


@pytest.mark.parametrize("stack", ["example-jp-aws", "example-jp-azure"])
def test_construct_registers_the_python_components_resources(stack: str) -> None:
    component, kwargs = _stack_kwargs(stack)
    cls = {"EgressSecurityGroup": EgressSecurityGroup}.get(component, EgressNetworkSecurityGroup)
    python = run_offline(lambda: cls("kf", **kwargs))
    served = _construct(component, _inputs(component, kwargs))
    cloud = "aws" if cls is EgressSecurityGroup else "azure"
    # Same children, inputs, ids and outputs; only the component's type token differs,
    # because a package serves its components from one module, korefw:index.
    text = served.dumps().replace(f"korefw:index:{component}", f"korefw:{cloud}:{component}")
    assert text == python.dumps()
    assert len([r for r in python.resources if r.custom]) >= 3
    assert served.of_type(f"korefw:index:{component}")


def test_construct_with_args_mapping_equals_keywords() -> None:
    args = {"rules": "jp", "vpc_id": VPC, "mode": "auto", "sections": ["Twilio*"]}
    by_keywords = run_offline(lambda: EgressSecurityGroup("kf", **args))
    by_args = run_offline(lambda: EgressSecurityGroup("kf", args))
    assert by_args.dumps() == by_keywords.dumps()


@pytest.mark.parametrize(
    ("component", "inputs", "message"),
    [
        (
            "EgressSecurityGroup",
            {"rules": "jp", "vpcId": VPC, "mode": "cheap"},
            "mode: unknown mode; expected one of cidr, prefix-list, auto (got 'cheap')",
        ),
        (
            "EgressSecurityGroup",
            {"rules": "mars", "vpcId": VPC},
            "unknown region or file (known regions: ",
        ),
        (
            "EgressNetworkSecurityGroup",
            {"rules": "jp", "resourceGroupName": "rg", "location": "x",
             "networkSecurityGroupName": "nsg"},
            "network_security_group_name: pass location (create a new NSG there) or "
            "network_security_group_name (add rules to that existing NSG), not both",
        ),
        (
            "DestinationPrefixLists",
            {"rules": "jp", "prefixListHeadroom": -1},
            "prefix_list_headroom: ",
        ),
    ],
)  # fmt: skip
def test_bad_inputs_give_the_components_one_line_error(
    component: str, inputs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ComponentInitError) as info:
        _construct(component, inputs)
    text = str(info.value)
    assert isinstance(info.value.inner, KorefwError)
    assert "\n" not in text
    assert message in text
    assert text == str(info.value.inner)


@settings(deadline=None)  # a property, not a speed test: shared CI machines stall
@given(
    st.dictionaries(
        st.sampled_from([o.name for o in COMPONENT_OPTIONS["EgressSecurityGroup"]]),
        st.one_of(st.none(), st.integers(), st.text(max_size=3)),
    ),
    st.data(),
)
def test_args_and_keywords_resolve_alike(given_args: dict[str, Any], data: st.DataObject) -> None:
    # However the arguments are split between the args mapping and keywords, the component
    # sees the same values: None is "not given", the rest are the declared defaults.
    options = COMPONENT_OPTIONS["EgressSecurityGroup"]
    as_args = set(data.draw(st.sets(st.sampled_from(sorted(given_args) or ["rules"]))))
    args = {k: v for k, v in given_args.items() if k in as_args}
    kwargs = {k: v for k, v in given_args.items() if k not in as_args}
    resolved = resolve(options, "EgressSecurityGroup", args, kwargs)
    assert resolved == resolve(options, "EgressSecurityGroup", None, given_args)
    for o in options:
        value = given_args.get(o.name)
        assert resolved[o.name] == (o.default if value is None else value)


def test_bad_keyword_names_the_argument() -> None:
    with pytest.raises(ConfigError, match=r"^vpcid: unknown argument of EgressSecurityGroup; "
                       r"did you mean vpc_id\?$"):  # fmt: skip
        EgressSecurityGroup("kf", rules="jp", vpcid=VPC)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="given both in args and as a keyword"):
        EgressSecurityGroup("kf", {"rules": "jp", "vpc_id": VPC}, vpc_id=VPC)


# --------------------------------------------------------------------------- one declaration


def test_a_new_option_is_one_declaration(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the README's developer note promises: one Option, and everything follows."""
    import importlib.util

    from korefw.core.plan import config
    from korefw.core.plan.options import Option
    from korefw.runtime.program import component_kwargs

    flag = Option("log_rules", "boolean", "Log each egress rule.", False, setting="aws")
    options = (*COMPONENT_OPTIONS["EgressSecurityGroup"], flag)
    monkeypatch.setitem(COMPONENT_OPTIONS, "EgressSecurityGroup", options)
    # The stack setting, and so Pulumi.yaml's config block and the README table.
    schema = config._schema()
    monkeypatch.setattr(config, "SCHEMA", schema)
    assert schema["awsLogRules"].type == "boolean"
    assert config.project_schema()["awsLogRules"]["default"] is False
    assert "| `korefw:awsLogRules` | boolean | `false` | Log each egress rule. |" in (
        config.reference_markdown()
    )
    # The args type (and so the package schema).
    spec = importlib.util.spec_from_file_location("sync_readme", ROOT / "scripts/sync_readme.py")
    assert spec and spec.loader
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    assert '    log_rules: bool\n    """Log each egress rule. Default: false."""' in (
        sync.args_source()
    )
    # The keyword, the planners' input and the program's plumbing.
    assert resolve(options, "EgressSecurityGroup", None, {"log_rules": True})["log_rules"]
    cfg = validate({"korefw:awsVpcId": VPC, "korefw:awsLogRules": True}, where="t")
    assert component_kwargs(cfg, "EgressSecurityGroup")["log_rules"] is True


# --------------------------------------------------------------------------- examples


def _check_inputs(schema: dict[str, Any], token: str, keys: set[str]) -> None:
    res = schema["resources"][token]
    assert keys <= set(res["inputProperties"]), (token, keys - set(res["inputProperties"]))
    assert set(res["requiredInputs"]) <= keys, token


def test_yaml_example_constructs_through_the_package(schema: dict[str, Any]) -> None:
    import yaml

    doc = yaml.safe_load((ROOT / "examples" / "yaml" / "Pulumi.yaml").read_text())
    assert doc["packages"] == {"korefw": "../../provider"}
    used = {k: r for k, r in doc["resources"].items() if r["type"].startswith("korefw:")}
    assert {r["type"] for r in used.values()} == {
        "korefw:index:EgressSecurityGroup",
        "korefw:index:EgressNetworkSecurityGroup",
    }
    for name, res in used.items():
        _check_inputs(schema, res["type"], set(res["properties"]))
        # ${app.id} is a VPC's id once the engine resolves it.
        inputs = {
            k: VPC if isinstance(v, str) and v.startswith("${") else v
            for k, v in res["properties"].items()
        }
        plan = _construct(res["type"].rsplit(":", 1)[1], inputs)
        assert any(r.custom for r in plan.resources), name


def test_typescript_example_uses_declared_inputs(schema: dict[str, Any]) -> None:
    source = (ROOT / "examples" / "typescript" / "index.ts").read_text()
    calls = re.findall(r"new korefw\.(\w+)\(\"[^\"]+\", \{\n(.*?)\n\}\);", source, re.S)
    assert {c for c, _ in calls} == {"EgressSecurityGroup", "EgressNetworkSecurityGroup"}
    for component, body in calls:
        keys = set(re.findall(r"^    (\w+):", body, re.M))
        _check_inputs(schema, f"korefw:index:{component}", keys)
    package_json = json.loads((ROOT / "examples" / "typescript" / "package.json").read_text())
    assert package_json["main"] == "index.ts"


@pytest.mark.parametrize(
    ("component", "inputs", "message"),
    [
        ("EgressSecurityGroup", {"rules": "jp", "vpcID": VPC},
         "vpcID: unknown input of EgressSecurityGroup; did you mean vpcId?"),
        ("EgressNetworkSecurityGroup",
         {"rules": "jp", "resourceGroupName": "rg", "location": "japaneast", "colour": "red"},
         "colour: unknown input of EgressNetworkSecurityGroup"),
    ],
)  # fmt: skip
def test_an_unknown_input_is_an_error_not_ignored(
    component: str, inputs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ComponentInitError) as info:
        _construct(component, inputs)
    assert isinstance(info.value.inner, ConfigError)
    assert str(info.value) == message
