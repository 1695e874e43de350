"""See the package docstring of attnlab."""
