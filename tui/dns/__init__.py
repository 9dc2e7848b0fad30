"""dig-like probes of Service names with dnspython, and verdicts against EndpointSlices."""
