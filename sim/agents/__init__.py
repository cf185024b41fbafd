"""Agents: vendors, marketplaces and law enforcement (Mesa agents), and the buyer population."""
