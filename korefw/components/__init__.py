"""The Pulumi components: thin layers that turn a plan from ``korefw.core.plan`` into
resources (``aws.py``, ``azure.py``, ``k8s.py``), their args types (``args.py``), and the two
helpers they share (``outputs.py``: plan data as Outputs; ``warn.py``: plan warnings)."""
