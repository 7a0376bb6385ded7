"""`python -m secondlook.api ...`: the server and database commands on their own."""

import typer

from secondlook.commands.server import register

app = typer.Typer(no_args_is_help=True)
register(app)
app()
