"""Stage 3, planning: a rule set into per-cloud (and per-platform) plans of plain data."""
