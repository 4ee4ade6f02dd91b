"""A Kubernetes API server for the tests, where no real control plane can run (``KUBELOGS_K8S_BIN`` unset).

It implements what the deploy, the verify stage and the test kubelet use, and is held to a real
kube-apiserver's recorded answers (``../shared/kube-contract``; tests/support/test_kube_double_contract.py):
when the two disagree, the double is wrong. One module per idea:

- ``server``: REST paths, authentication, RBAC (``auth``), answers and Warning headers, pods/log and pods/proxy;
- ``store``: the one write path (admission, defaults, validation, field ownership, resource versions);
- ``fields``: server-side apply and managed fields; ``selectors``: label and field selectors;
- ``admission``, ``podsecurity``, ``defaults``, ``validation``, ``errors``: what the API server's plugins,
  strategies and validation say, in their words; ``podtemplate``: pod templates as Go decodes, defaults
  and hashes them;
- ``controllers``: namespaces, node lifecycle, scheduler, DaemonSet, StatefulSet, Deployment/ReplicaSet,
  Job and the garbage collector, in one loop;
- ``__main__``: run as a process (tests/support/double_control_plane.py starts it).

Known differences from a real v1.32 server, none of which the deploy relies on today (a review listed them;
the contract does not reach them): no watch, strategic-merge or JSON patch (415, saying so); when a
manager stops applying a whole struct, defaulted children nobody owns stay behind where the real server
drops the struct; items a manager adds to a keyed list go last, not where it listed them; an apply to
``/status`` is taken as one to the object; a creator owns the fields it sent, not the defaults; deleting a
Service answers a Status, not the object; a played node's pods are removed 2 s after the node, not 40 s;
a CronJob's schedule never runs (a test makes the Job).
"""
