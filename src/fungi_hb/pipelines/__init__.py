"""The two jobs, callable from Python without argparse."""
