"""Backends that produce completions. See base.Provider."""
