"""Stage 1, reading: Kore.ai's vendor pages and rules files into a :class:`RuleSet`."""
