"""The core every layer above stands on: paths and settings, the typed stack outputs, bounded waits,
progress lines, and one client per real component (SSH, HTTP JSON, Patroni, pgBackRest, Toxiproxy,
TURN, the database, a host's network namespace, the local platform's containers).

Nothing here imports drills, checks, load, evidence, provisioning or the command line.
"""
