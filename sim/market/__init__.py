"""Market rules as plain functions and columnar stores: escrow, orders, choice, reputation, trade."""
