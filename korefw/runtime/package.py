"""korefw's components as a Pulumi component package, for every Pulumi language.

``provider/__main__.py`` serves :data:`COMPONENTS` through the Pulumi Python SDK's
component provider (``pulumi.provider.experimental``), which infers the package schema
from the args types (``korefw/components/args.py``) and the components' output annotations.
``korefw schema`` prints that schema (:func:`schema`).

Each served class is the library component itself, with two differences the SDK needs:
its ``__init__`` takes exactly ``(name, args, opts)`` with ``args`` annotated by its args
type, and it registers as ``korefw:index:<Name>`` (the SDK serves one module, ``index``).
So a stack built from another language has the same child resources as a Python one,
under a component of type ``korefw:index:EgressSecurityGroup`` instead of
``korefw:aws:EgressSecurityGroup``.

No ``from __future__ import annotations`` here: the analyzer reads annotations as objects.
"""

import difflib
import inspect
import json
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pulumi

from ..components import args as args_types
from ..components.aws import DestinationPrefixLists, EgressSecurityGroup, FqdnAllowlist
from ..components.azure import EgressNetworkSecurityGroup

NAME = "korefw"


def package_version() -> str:
    """korefw's version, the package's version."""
    try:
        return version("korefw")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0.0.0"


def _served(component: type[pulumi.ComponentResource]) -> type[pulumi.ComponentResource]:
    """``component`` with the signature and type token the component provider needs."""
    args_type = getattr(args_types, f"{component.__name__}Args")

    def __init__(
        self: Any, name: str, args: args_type, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        component.__init__(self, name, args, opts)

    return type(
        component.__name__,
        (component,),
        {
            "__init__": __init__,
            "__doc__": inspect.cleandoc(component.__doc__ or ""),
            "__module__": __name__,
            # The library module postpones its annotations; the analyzer needs objects.
            "__annotations__": inspect.get_annotations(component, eval_str=True),
            "_TYPE": f"{NAME}:index:{component.__name__}",
        },
    )


#: The components the package serves (the Azure FqdnAllowlist is built from a plan, not
#: from arguments, and stays an implementation detail of EgressNetworkSecurityGroup).
COMPONENTS: list[type[pulumi.ComponentResource]] = [
    _served(c)
    for c in (
        EgressSecurityGroup,
        DestinationPrefixLists,
        FqdnAllowlist,
        EgressNetworkSecurityGroup,
    )
]


def provider() -> Any:
    """The component provider that ``provider/__main__.py`` hosts.

    The SDK's provider maps the inputs its schema declares and drops any other; korefw's
    refuses an unknown input instead (a misspelt ``vpcID`` would otherwise be ignored),
    as the Python components refuse an unknown keyword.
    """
    from pulumi.provider.experimental.component import ComponentProvider
    from pulumi.provider.server import ComponentInitError

    from ..core.errors import ConfigError

    class StrictProvider(ComponentProvider):  # type: ignore[misc]
        def construct(self, name: str, resource_type: str, inputs: Any, options: Any = None) -> Any:
            component = resource_type.rsplit(":", maxsplit=1)[-1]
            known = getattr(self._component_defs.get(component), "inputs", None)
            if known is not None and isinstance(inputs, dict):
                for key in sorted(set(inputs) - set(known)):
                    near = difflib.get_close_matches(str(key), list(known), n=1)
                    hint = f"; did you mean {near[0]}?" if near else ""
                    raise ComponentInitError(
                        ConfigError(f"unknown input of {component}{hint}", where=str(key))
                    )
            return super().construct(name, resource_type, inputs, options)

    return StrictProvider(COMPONENTS, NAME, version=package_version())


def schema() -> dict[str, Any]:
    """The package schema the plugin serves (what ``GetSchema`` returns)."""
    return json.loads(provider().schema)
