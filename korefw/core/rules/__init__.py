"""Stage 2, the rule model: rules, addresses, port ranges and the allow-set arithmetic."""
