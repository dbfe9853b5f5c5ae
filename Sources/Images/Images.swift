// Images — to be written (see README for the layering).
