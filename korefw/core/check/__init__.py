"""Stage 4, checking: verify, diff, lint and policy checks of plans and deployed stacks."""
