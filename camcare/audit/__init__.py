"""The audit log and the error references: written by every app, so below all of them."""
