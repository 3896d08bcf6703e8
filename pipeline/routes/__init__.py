"""Vehicle routes on the drivable road network and UE trajectories over the slot window."""
