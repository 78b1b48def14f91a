"""What runs korefw under Pulumi's engine: the Pulumi program (``program.py``), the offline
preview under Pulumi's mock runtime (``offline.py``, ``preview.py``), the component provider for
other languages (``package.py``) and the private Pulumi names they need
(``_pulumi_internals.py``)."""
