"""Feature modules: each holds its commands' grammar (COMMANDS), handlers (HANDLERS) and, when it returns
results of its own, their rendering (RENDERERS)."""
