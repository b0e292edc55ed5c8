"""Pure builders: (stack, rendered configs) -> Kubernetes object dicts; apply and diff helpers."""
