"""The pure core: rule model, address arithmetic, importer and per-cloud planners.

Nothing under ``korefw.core`` imports ``pulumi``; a test enforces it.
"""
