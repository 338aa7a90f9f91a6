"""The model zoo: cards (validated data), the registry, builders, strict weight loading, and one
module per architecture."""
