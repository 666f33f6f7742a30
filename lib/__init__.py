"""Seedscope: how reproducible are an LLM's outputs?"""
