"""The floor every stage stands on: errors, atomic files, the wiki's paths, slugs, settings, strict YAML,
the LLM client.

Imports nothing else from exprun.
"""
