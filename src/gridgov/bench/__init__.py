"""Benchmarks (`gridgov bench …`): each prints its figures beside a baseline from the same run."""
