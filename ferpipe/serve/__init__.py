"""`python -m ferpipe serve`: the export behind a web page (photos, webcam, model card) and a JSON API."""
