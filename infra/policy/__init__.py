"""Requirement rules on the resource graph, shared by the policy pack, the executor and the tests."""
