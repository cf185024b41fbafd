"""cryptomarket-abm: an agent-based model of online drug markets for drug-policy research.

Layers and who owns what: docs/architecture.md. Model description: docs/ODD.md.
"""
