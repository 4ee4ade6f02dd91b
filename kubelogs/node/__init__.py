"""The node stage's code, run on each Kubernetes node (its ``@deploy`` is in tasks/node.py).

What it reads: ``facts`` (``NodeState``: everything about a node in one round trip). What it decides from
that: ``decisions`` (managed paths and files, what no operation can fix, disk headroom). What it changes:
``operations`` (each yields at most one command, none on a node that is already right). What it shares
with the later stages of the run: ``state`` (``NodeStates``: each node's state, runtime and dead letters,
read once).
"""
