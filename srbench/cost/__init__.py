"""Efficiency: parameters, Mult-Adds, FLOPs, NTIRE counts, runtime and memory."""
