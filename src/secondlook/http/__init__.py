"""What the REST API (``api``) and the web pages (``web``) share as one HTTP application: the
database session of a request, the signed-in principal and the access it stands for, If-Match,
problem details and signing in. Neither adapter imports the other; both import this."""
