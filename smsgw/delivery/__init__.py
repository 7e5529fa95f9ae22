"""Delivery: sending one message through a channel, recording submits, receipts and inbound."""
