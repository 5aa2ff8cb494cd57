"""A local emulation of every vendor Bezel talks to, with fault injection: a server, not a client.

It is not part of Bezel's production wheel or image. `python -m sandbox` (or `bezel sandbox` in a
development checkout) serves it; `sandbox.handle` is how tests and benchmarks start and drive it.
"""

from sandbox.app import VENDOR_NAMES, create_app

__all__ = ["VENDOR_NAMES", "create_app"]
