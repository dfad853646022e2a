"""``make verify``: after a deploy, prove the whole path works, and say exactly what is wrong.

The tutorial checks by eye: the virtual node in ``kubectl get nodes``, the ``web`` pod on it with an
IP, the same container group and IP in ``az container show``, the app in a browser. This package
does the same checks and more (the node guard, node deletions, a database round trip, both sides
of a burst, stray pods on the virtual node) as one command, reading the stack's outputs, the
cluster through its kubeconfig, Azure through ``DefaultAzureCredential`` and the app over HTTP.
It changes nothing except one todo it creates and deletes. See docs/verify.md and
docs/decisions/0011-verify-command.md.
"""
