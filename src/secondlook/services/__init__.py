"""The service layer: one module per domain. Each function takes keyword-only arguments and an
:class:`~secondlook.platform.access.Access`, authorizes, audits, runs the domain and the store
in one transaction, and returns domain results or raises
:class:`~secondlook.platform.errors.Refused`. The REST API, the web pages, the PDFs, the command
line and the FHIR server only translate their input into a call and render what comes back
(docs/architecture.md)."""
