"""A local tenant simulator: Graph, ACS Email (and later Exchange) endpoints over real HTTP on loopback."""
