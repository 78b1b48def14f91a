"""korefw: Kore.ai voice-gateway egress firewall rules as Pulumi components.

The pipeline reads one way:

    vendor page -> rule model -> per-cloud plan -> Pulumi components -> program and CLI

Each part has its folder:

- ``korefw.core``: pure (no ``pulumi`` import): model, address arithmetic, importers, planners
  and the checks of Pulumi documents;
- ``korefw.components``: the thin Pulumi components (``korefw.components.aws``,
  ``korefw.components.azure``, ``korefw.components.k8s``), the public library API;
- ``korefw.runtime``: what runs them under Pulumi's engine (the program, the offline runtime,
  the component provider);
- ``korefw.cli``: the ``korefw`` command line.
"""

__version__ = "0.1.0"
