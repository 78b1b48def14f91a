"""Adapters that read live firewalls for ``korefw audit`` into :mod:`korefw.core.check.audit` data.

Each imports its cloud SDK (an optional extra) only when called.
"""
