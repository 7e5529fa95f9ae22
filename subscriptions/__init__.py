"""Citizen subscriptions: keyword grammar, service catalogue, subscribers and consent (issue 3)."""
