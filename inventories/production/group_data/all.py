"""Data for every host of the production example: connection and the kubelogs settings.

The settings describe one cluster, so they live here, once. Reference: docs/settings.md.
"""

ssh_user = "deploy"
_sudo = True  # sysctl, /etc/sysctl.d and the hostPath directories need root

kubelogs = {
    "namespace": "logging",
    "elasticsearch": {
        "version": "9.5.7",
        "replicas": 3,
        "heap": "2g",
        "memory": "4Gi",
        "data_path": "/es-data",
    },
    "nodes": {"low_disk": "fail"},
    "agents": {"collector": "auto"},
}
