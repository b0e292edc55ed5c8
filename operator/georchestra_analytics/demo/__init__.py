"""`georchestra-analytics demo`: a generated week of a fictional platform, through the real pipeline, reported."""
