"""Server-rendered pages (Django templates, no build step): the summary page people open from a failure alert."""
