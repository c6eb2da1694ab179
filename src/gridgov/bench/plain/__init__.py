"""The plain baseline of `gridgov bench intake`: a minimal Django + ninja project whose one view
does what any intake must at least do, one durable transaction with one insert and one timeline
row. It runs under the same server settings and load as the platform, so the ratio between the
two is what the platform's own work per report costs."""
