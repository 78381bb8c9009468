"""Provisioning: the Pulumi program run under the mock runtime, and its graph applied to Docker.

``harness up``/``down``/``preview``/``setup`` live here; drills never import it except to find the
Docker engine that is the local platform's power switch.
"""
