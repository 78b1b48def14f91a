"""Stage 5, probing: which flows ``korefw probe`` tries, and the STUN messages it sends.

Pure like every stage: the sockets live outside the core, in :mod:`korefw.probe`.
"""
