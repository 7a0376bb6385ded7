"""What every layer shares and no framework owns: who is acting (access), the errors a service
may refuse with, and today's date. Nothing here imports the store, HTTP or the web."""
