"""The embedded simulated cluster: a real HTTP server on loopback speaking the Kubernetes API."""
