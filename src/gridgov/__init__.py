"""gridgov."""
