"""Pulumi components of the internet-hospital topology, one per piece, shared by every stack."""
