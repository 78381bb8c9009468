"""Patient and doctor load through both uplinks, with a client that fails over as a real app would."""
