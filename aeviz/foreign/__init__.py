"""Models trained elsewhere: torch.export folders, pythae folders and the operator's adapters, behind aeviz's API."""
