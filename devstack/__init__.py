"""The local stack: Azurite and the tenant simulator on free loopback ports, and the demo that uses them."""
