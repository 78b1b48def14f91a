"""The korefw component package's plugin: serves korefw's components to the Pulumi engine.

The engine starts it (`pulumi package add`, `pulumi preview`); it prints the port of its
gRPC server and answers GetSchema and Construct. `korefw schema` prints the same schema.
"""

from pulumi.provider.experimental import component_provider_host

from korefw.runtime.package import COMPONENTS, NAME, package_version

if __name__ == "__main__":
    component_provider_host(COMPONENTS, name=NAME, version=package_version())
