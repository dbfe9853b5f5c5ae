// Scorers — to be written (see README for the layering).
