"""Delivery: the outbox worker and the console, Slack and Telegram senders."""
