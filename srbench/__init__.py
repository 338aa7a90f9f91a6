"""srbench: faithful, fast, reproducible evaluation of single-image super-resolution models."""

__version__ = "0.1.0"

__all__ = ["__version__"]
