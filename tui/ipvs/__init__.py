"""This node's IPVS table: the model, a netlink reader, a /proc reader, and ipvsadm-style output."""
