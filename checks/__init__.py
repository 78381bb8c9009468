"""Checks of running hosts and services, through the stack's outputs only."""
