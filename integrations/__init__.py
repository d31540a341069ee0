"""Adapters between enforcer and the frameworks that run models (installed as ``enforcer.integrations``).

Each adapter lives in its own module and imports its framework itself, so importing
``enforcer`` never pulls in torch, transformers or vLLM.
"""
