"""korefw: Kore.ai voice-gateway egress firewall rules as Pulumi components.

The pipeline reads one way:

    vendor page -> rule model -> per-cloud plan -> Pulumi components -> program and CLI

``korefw.core`` is pure (no ``pulumi`` import): model, address arithmetic, importer,
planners. ``korefw.aws`` and ``korefw.azure`` hold the thin Pulumi components.
"""

__version__ = "0.1.0"
