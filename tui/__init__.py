"""svcscope: Kubernetes Services, EndpointSlices, IPVS and DNS, joined live in a terminal UI."""

__version__ = "0.1.0"
