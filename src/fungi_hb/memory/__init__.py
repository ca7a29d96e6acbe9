"""Memory banks: what they hold (types), how many rows (plan), and how they are filled (fill)."""
