"""Argument parsing for the two scripts: flags declared once, turned into typed configs."""
