"""Page back-ends: one module per page (named like it) and the drawing they share; they import only the core."""
