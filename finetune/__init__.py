"""Offline: recorded episodes to dataset rows, datasets, the Hub, and fine-tuned models.

Reads the store only through `recorder`'s API; never touches SQL.
"""
