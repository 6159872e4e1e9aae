"""Annotation on a server, whatever the server: the backend interface, push, pull, pseudonyms."""
