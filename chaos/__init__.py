"""Drills that inject faults into a running stack, through its outputs, and always undo them."""
