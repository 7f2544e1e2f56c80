"""A local tenant simulator: Graph, ACS Email and Exchange admin endpoints over real HTTP on loopback."""
