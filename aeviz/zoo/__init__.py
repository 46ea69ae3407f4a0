"""The shipped zoo: building it, which models a page compares, and reproducing the articles' figures with it."""
