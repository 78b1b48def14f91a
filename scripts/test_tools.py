"""Install the real programs some tests check korefw's output against, from Debian's packages.

The test command in the README (and so ``.ci/run``) runs this before pytest. Each entry is a
program a test runs and the Debian package that ships it. What is already on PATH is left
alone; what is missing is installed with ``apt-get`` when this runs as root (or with
password-less ``sudo``, as on GitHub's runners) on Debian or Ubuntu.
Elsewhere (a developer's laptop), the missing programs are named in one line each and the
tests that need them skip; in CI (``CI`` set) a program that cannot be installed is an error,
so those tests never skip there unnoticed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

# program on PATH -> Debian package, and why a test needs it
TOOLS: dict[str, tuple[str, str]] = {
    "nft": ("nftables", "checks rendered nftables rules: nft -c"),
    "iptables-restore": ("iptables", "checks rendered iptables rules: iptables-restore --test"),
    # The probe tests start their own turnserver on 127.0.0.1 with a free port; the packaged
    # service is kept from starting while apt-get installs it (policy-rc.d, below).
    "turnserver": ("coturn", "answers korefw probe's STUN Binding requests over UDP and TCP"),
    "openssl": ("openssl", "makes the self-signed certificate of korefw probe's TLS tests"),
    "zsh": ("zsh", "parses the zsh completion script: zsh -n"),
}

# Debian's way to keep packages from starting services while they install (invoke-rc.d).
POLICY_RC_D = "/usr/sbin/policy-rc.d"

# Programs that live in sbin, which a non-login PATH may leave out.
EXTRA_PATH = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")


def which(program: str) -> str | None:
    """Where ``program`` is, on PATH or in the sbin folders."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *EXTRA_PATH])
    return shutil.which(program, path=path)


def missing() -> dict[str, str]:
    """The programs not found, each with its Debian package."""
    return {prog: pkg for prog, (pkg, _) in TOOLS.items() if which(prog) is None}


def root_prefix() -> list[str] | None:
    """How to run a command as root: directly as root, through password-less ``sudo``
    (GitHub's runners), or not at all (None)."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return []
    if which("sudo") is not None:
        probe = subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["sudo", "-n"]
    return None


def install(packages: list[str]) -> bool:
    """Install Debian packages with apt-get; True when it worked."""
    root = root_prefix()
    if root is None or which("apt-get") is None:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "env": env}
    apt = [*root, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    steps = (
        [*apt, "update", "-qq"],
        [*apt, "install", "-y", "-qq", "--no-install-recommends", *packages],
    )
    # A package that ships a service (coturn) must not leave one running after the install.
    own_policy = not os.path.exists(POLICY_RC_D)
    if own_policy:
        script = "#!/bin/sh\n# test_tools.py: start no service while installing\nexit 101\n"
        subprocess.run([*root, "tee", POLICY_RC_D], input=script, text=True,
                       stdout=subprocess.DEVNULL, check=True)  # fmt: skip
        subprocess.run([*root, "chmod", "755", POLICY_RC_D], check=True)
    try:
        for step in steps:
            proc = subprocess.run(step, check=False, text=True, **quiet)  # type: ignore[call-overload]
            if proc.returncode != 0:
                tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
                print(f"test_tools: apt-get {step[len(apt)]} failed: {tail[0]}", file=sys.stderr)
                return False
    finally:
        if own_policy:
            subprocess.run([*root, "rm", "-f", POLICY_RC_D], check=False)
    return True


def main() -> int:
    """Install what is missing; exit 1 only in CI when something stays missing."""
    need = missing()
    if need and install(sorted(set(need.values()))):
        need = missing()
    for prog, pkg in need.items():
        print(
            f"test_tools: {prog} not found (Debian package {pkg}, which {TOOLS[prog][1]}); "
            "the tests that need it will skip",
            file=sys.stderr,
        )
    if need and os.environ.get("CI"):
        print("test_tools: CI must run every test; install the packages above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
