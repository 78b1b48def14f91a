"""``korefw audit azure`` against a local HTTPS server answering with Azure's own examples.

The server answers azure-mgmt-network's list calls with the example responses of Azure's
REST API specification (``tests/fixtures/azure/``, see its README), their
``securityRules`` replaced by korefw's plan for Japan: the envelope, ids and default
rules stay as Azure documents them. The certificate is self-signed, made here.
"""

from __future__ import annotations

import copy
import datetime
import http.server
import ipaddress
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli

from korefw.core.plan.azure_options import AzureOptions
from korefw.core.plan.azure_plan import plan_azure
from korefw.core.read.regions import load_rules

pytest.importorskip("azure.mgmt.network")
pytest.importorskip("azure.identity")
x509 = pytest.importorskip("cryptography.x509")

FIXTURES = Path(__file__).parent / "fixtures" / "azure"
PREFIX = "/providers/Microsoft.Network/networkSecurityGroups"


def _example(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())["responses"]["200"]["body"]


def _japan_rules(nsg_id: str) -> list[dict[str, Any]]:
    """korefw's NSG rules for Japan (with the closing Deny) as Azure's API reports them."""
    plan = plan_azure(load_rules("jp"), AzureOptions(deny_other_outbound=True))
    return [
        {"name": r.name, "id": f"{nsg_id}/securityRules/{r.name}",
         "properties": {"provisioningState": "Succeeded", "description": r.description,
                        "protocol": r.protocol, "sourcePortRange": "*",
                        "sourceAddressPrefix": "*",
                        "destinationAddressPrefixes": list(r.destination_address_prefixes),
                        "destinationPortRanges": list(r.destination_port_ranges),
                        "access": r.access, "priority": r.priority, "direction": "Outbound"}}
        for r in plan.nsg_rules
    ]  # fmt: skip


def _adapted(name: str) -> dict[str, Any]:
    """The example with Japan's rules in every NSG, and nsg1 tagged korefw=jp."""
    body = copy.deepcopy(_example(name))
    for nsg in body["value"]:
        nsg["properties"]["securityRules"] = _japan_rules(nsg["id"])
        if nsg["name"] == "nsg1":
            nsg["tags"] = {"korefw": "jp"}
    return body


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert.pem, key.pem)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


class Arm:
    """An HTTPS server answering ARM paths (query ignored) with canned JSON documents."""

    def __init__(self, folder: Path) -> None:
        self.routes: dict[str, tuple[int, dict[str, Any]]] = {}
        self.requests: list[str] = []
        routes, seen = self.routes, self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                seen.append(path)
                status, body = routes.get(path, (404, {"error": {"code": "NotFound",
                                                                   "message": path}}))  # fmt: skip
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.cert, key = _certificate(folder)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


class _Token:
    """A credential handing out a fixed bearer token (no sign-in)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("test-token", int(time.time()) + 3600)


@pytest.fixture
def arm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Arm]:
    server = Arm(tmp_path)
    server.routes[f"/subscriptions/subid{PREFIX}"] = (200, _adapted("NetworkSecurityGroupListAll"))
    server.routes[f"/subscriptions/subid/resourceGroups/rg1{PREFIX}"] = (
        200, _adapted("NetworkSecurityGroupList"))  # fmt: skip
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.cert))
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    monkeypatch.setattr("korefw.audit.azure.credential", lambda: _Token())
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def _audit(capsys: pytest.CaptureFixture[str], arm: Arm, *args: str) -> tuple[int, str, str]:
    return run_cli(capsys, "audit", "azure", "jp", "--endpoint-url", arm.url, *args)


def _nsg(arm: Arm, path: str, name: str) -> dict[str, Any]:
    return next(n for n in arm.routes[path][1]["value"] if n["name"] == name)


def test_the_examples_with_japans_rules_audit_exact(arm, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = _audit(capsys, arm, "--subscription", "subid")
    assert (code, err) == (0, ""), out + err
    assert "OK: azure subid/rg1/nsg1" in out and "OK: azure subid/rg2/nsg3" in out
    assert "AllowVnetOutBound (65000)" in out  # the note on the default rule left out
    assert "existing NSG" not in out and "problem" not in out
    assert any(p.endswith(f"/subscriptions/subid{PREFIX}") for p in arm.requests)


def test_resource_group_and_tag_select(arm, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = _audit(capsys, arm, "--subscription", "subid", "--resource-group", "rg1")
    assert code == 0 and "subid/rg1/nsg3" in out
    assert arm.requests[-1] == f"/subscriptions/subid/resourceGroups/rg1{PREFIX}"
    code, out, _ = _audit(capsys, arm, "--subscription", "subid", "--tag", "korefw=jp")
    assert code == 0 and "nsg1" in out and "nsg3" not in out


def test_an_allow_star_rule_differs(arm, capsys) -> None:  # type: ignore[no-untyped-def]
    path = f"/subscriptions/subid{PREFIX}"
    nsg = _nsg(arm, path, "nsg3")
    nsg["properties"]["securityRules"].append(
        {"name": "allow-all", "properties": {
            "protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
            "sourceAddressPrefix": "*", "destinationAddressPrefix": "*", "access": "Allow",
            "priority": 200, "direction": "Outbound"}})  # fmt: skip
    code, out, err = _audit(capsys, arm, "--subscription", "subid")
    assert (code, err) == (1, ""), out + err
    assert "OK: azure subid/rg1/nsg1" in out and "FAIL: azure subid/rg2/nsg3" in out
    assert "wider than TCP or UDP: protocol '*' in subid/rg2/nsg3 rule allow-all" in out
    assert "extra   tcp 0-" in out


def test_an_allow_star_after_the_deny_is_shadowed(arm, capsys) -> None:  # type: ignore[no-untyped-def]
    """First match wins: an Allow behind the closing Deny (to Internet) lets nothing out."""
    nsg = _nsg(arm, f"/subscriptions/subid{PREFIX}", "nsg3")
    nsg["properties"]["securityRules"].append(
        {"name": "allow-tcp-late", "properties": {
            "protocol": "Tcp", "destinationPortRange": "*", "destinationAddressPrefix": "*",
            "access": "Allow", "priority": 4000, "direction": "Outbound"}})  # fmt: skip
    code, out, _ = _audit(capsys, arm, "--subscription", "subid")
    assert code == 0, out
    nsg["properties"]["securityRules"][-1]["properties"]["priority"] = 1000  # before the Deny
    code, out, _ = _audit(capsys, arm, "--subscription", "subid")
    assert code == 1 and "extra   tcp 0-" in out


def test_a_missing_deny_differs(arm, capsys) -> None:  # type: ignore[no-untyped-def]
    nsg = _nsg(arm, f"/subscriptions/subid{PREFIX}", "nsg1")
    rules = nsg["properties"]["securityRules"]
    rules[:] = [r for r in rules if r["properties"]["access"] != "Deny"]
    code, out, err = _audit(capsys, arm, "--subscription", "subid")
    assert (code, err) == (1, ""), out + err
    assert "FAIL: azure subid/rg1/nsg1" in out
    assert "open to the Internet: nothing in subid/rg1/nsg1 denies other outbound" in out
    code, out, _ = _audit(capsys, arm, "--subscription", "subid", "--egress-filtered-elsewhere")
    assert code == 0 and "accepted because Internet egress is filtered elsewhere" in out


def test_the_unadapted_examples_are_open(arm, capsys) -> None:  # type: ignore[no-untyped-def]
    arm.routes[f"/subscriptions/subid{PREFIX}"] = (200, _example("NetworkSecurityGroupListAll"))
    code, out, _ = _audit(capsys, arm, "--subscription", "subid")
    assert code == 1
    assert out.count("missing ") > 0 and out.count("open to the Internet") == 2


def test_no_permission_is_one_line_naming_the_action(arm, capsys) -> None:  # type: ignore[no-untyped-def]
    arm.routes[f"/subscriptions/denied{PREFIX}"] = (403, {"error": {
        "code": "AuthorizationFailed",
        "message": "The client does not have authorization to perform action "
                   "'Microsoft.Network/networkSecurityGroups/read'.\nMore text."}})  # fmt: skip
    code, out, err = _audit(capsys, arm, "--subscription", "denied")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1, err
    assert "AuthorizationFailed" in err
    assert "Microsoft.Network/networkSecurityGroups/read" in err


def test_unreachable_endpoint_is_one_line(arm, capsys) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = run_cli(capsys, "audit", "azure", "jp", "--subscription", "subid",
                             "--endpoint-url", f"https://127.0.0.1:{port}")  # fmt: skip
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and f"cannot reach https://127.0.0.1:{port}" in err, err


def test_no_subscription_is_one_line(arm, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = _audit(capsys, arm)
    assert code == 2 and "--subscription" in err and err.count("\n") == 1


def test_a_failed_sign_in_is_one_line_without_the_sdks_log() -> None:
    """azure-identity logs each failed credential as a multi-line WARNING; with no logging
    configured Python prints it on stderr, above korefw's one line."""
    code = (
        "import logging, sys\n"
        "import korefw.audit.azure as az\n"
        "from azure.core.exceptions import ClientAuthenticationError\n"
        "class Bad:\n"
        "    def get_token(self, *a, **k):\n"
        "        logging.getLogger('azure.identity._credentials.chained').warning(\n"
        "            'DefaultAzureCredential failed\\nAttempted credentials:\\n\\tEnv: no')\n"
        "        raise ClientAuthenticationError('DefaultAzureCredential failed')\n"
        "az.credential = lambda: Bad()\n"
        "from korefw.cli.app import main\n"
        "sys.exit(main(['audit', 'azure', 'jp', '--subscription', 's',\n"
        "               '--endpoint-url', 'https://127.0.0.1:9']))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and "cannot sign in to Azure" in run.stderr, run.stderr


def test_values_of_one_tag_key_are_alternatives(arm, capsys) -> None:  # type: ignore[no-untyped-def]
    """As the help says, and as AWS's tag filters do: k=a and k=b select either value."""
    code, out, _ = _audit(
        capsys, arm, "--subscription", "subid", "--tag", "korefw=jp", "--tag", "korefw=other"
    )
    assert code == 0 and "nsg1" in out and "nsg3" not in out
