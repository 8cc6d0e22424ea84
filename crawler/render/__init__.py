"""Pages that need a browser: the guarded proxy, the browser's settings add-on and the renderer."""
