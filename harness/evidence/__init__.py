"""Evidence for assessors, built from the files of a run folder alone (no stack, no network, no SSH)."""
