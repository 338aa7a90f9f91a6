"""Evaluation: plan -> a pure per-image unit -> aggregate, the driver, executors, sweeps."""
