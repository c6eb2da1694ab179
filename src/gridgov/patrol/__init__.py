"""Patrols: a grid worker's rounds — track, check-ins at set places — and who patrolled where."""
