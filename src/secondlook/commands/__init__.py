"""The command line's commands, one module per group, each with ``register(app)``; the root
group (``secondlook.cli``) imports a module only when its command runs. Commands are adapters
like the REST API and the pages: they parse arguments, call a service or the pure core, and
print the result."""
