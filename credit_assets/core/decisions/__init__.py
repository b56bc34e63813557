"""Decisions at the point of application: records checked by the contract, scored like the batch, logged."""
