"""The Kubernetes API side: client configuration, list+watch caches, Service manifests and their validation."""
