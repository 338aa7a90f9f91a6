"""Metrics: each implementation module registers its spec beside its code (see :mod:`.registry`);
an implementation sees a prepared pair, never the protocol."""
