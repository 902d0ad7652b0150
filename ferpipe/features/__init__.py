"""Deep features: the trained network's `features` layer for every split (`embed`), and the files that hold them."""
