"""Joins a Service, its EndpointSlices, this node's IPVS table and DNS, and names every disagreement."""
