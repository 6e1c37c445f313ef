"""The language server, its command line and everything that speaks LSP (``tactful.server``)."""

__version__ = "0.1.0"
