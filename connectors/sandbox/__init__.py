"""A local emulation of every vendor Bezel talks to, with fault injection (see `app.create_app`)."""

from connectors.sandbox.app import create_app

__all__ = ["create_app"]
