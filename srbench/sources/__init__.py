"""What is evaluated (sources), how it is resolved from a name, and how it is run (runners)."""
