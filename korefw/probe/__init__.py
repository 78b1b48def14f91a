"""``korefw probe``'s sockets: one handshake per flow, within a time budget.

:mod:`.attempts` tries one flow (TCP connect, STUN Binding over UDP or TCP, DNS and a
TLS handshake); :mod:`.runner` runs a plan's flows in parallel within ``--deadline``.
What to try comes from the pure :mod:`korefw.core.probe`. Nothing imports this package
until ``korefw probe`` runs.
"""
